<?php
/**
 * Test stand-in for OCP\Files\Cache\CacheEntryInsertedEvent.
 * Mirrors nextcloud/server lib/public/Files/Cache/CacheEntryInsertedEvent.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 */

declare(strict_types=1);

namespace OCP\Files\Cache;

class CacheEntryInsertedEvent extends AbstractCacheEvent
{
}
