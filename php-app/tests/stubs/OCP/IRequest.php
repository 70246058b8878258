<?php
/**
 * Test stand-in for OCP\IRequest.
 * Mirrors nextcloud/server lib/public/IRequest.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 */

declare(strict_types=1);

namespace OCP;

interface IRequest
{
    public function getParam(string $key, $default = null);
}
