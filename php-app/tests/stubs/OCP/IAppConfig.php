<?php
/**
 * Stand-in for OCP\IAppConfig (nextcloud/server lib/public/IAppConfig.php
 * at 025d114e6a852601d0178eaab0dc057cdb6aa331): the part harpbridge uses.
 * Values are cached per process; clearCache() (since 29) drops that cache.
 */

declare(strict_types=1);

namespace OCP;

interface IAppConfig
{
    public function getValueString(string $app, string $key, string $default = '', bool $lazy = false): string;

    public function setValueString(string $app, string $key, string $value, bool $lazy = false, bool $sensitive = false): bool;

    public function clearCache(bool $reload = false): void;
}
