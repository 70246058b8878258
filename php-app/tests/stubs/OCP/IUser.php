<?php
/**
 * Test stand-in for OCP\IUser.
 * Mirrors nextcloud/server lib/public/IUser.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 */

declare(strict_types=1);

namespace OCP;

interface IUser
{
    /** @return string */
    public function getUID();
}
