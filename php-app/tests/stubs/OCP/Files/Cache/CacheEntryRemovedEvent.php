<?php
/**
 * Test stand-in for OCP\Files\Cache\CacheEntryRemovedEvent.
 * Mirrors nextcloud/server lib/public/Files/Cache/CacheEntryRemovedEvent.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 */

declare(strict_types=1);

namespace OCP\Files\Cache;

class CacheEntryRemovedEvent extends AbstractCacheEvent
{
}
