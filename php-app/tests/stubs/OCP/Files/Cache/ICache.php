<?php
/**
 * Test stand-in for OCP\Files\Cache\ICache.
 * Mirrors nextcloud/server lib/public/Files/Cache/ICache.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 */

declare(strict_types=1);

namespace OCP\Files\Cache;

interface ICache
{
    /** @return int */
    public function getNumericStorageId();

    /** @return ICacheEntry|false */
    public function get($file);
}
