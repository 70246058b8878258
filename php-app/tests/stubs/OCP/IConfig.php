<?php
/**
 * Test stand-in for OCP\IConfig.
 * Mirrors nextcloud/server lib/public/IConfig.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 */

declare(strict_types=1);

namespace OCP;

interface IConfig
{
    /** @return string */
    public function getAppValue($appName, $key, $default = '');

    public function setAppValue($appName, $key, $value);

    public function deleteAppValue($appName, $key);

    public function getSystemValueString(string $key, string $default = ''): string;
}
