<?php
/**
 * Test stand-in for OCP\IUserSession.
 * Mirrors nextcloud/server lib/public/IUserSession.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 */

declare(strict_types=1);

namespace OCP;

interface IUserSession
{
    /** @return IUser|null */
    public function getUser();
}
