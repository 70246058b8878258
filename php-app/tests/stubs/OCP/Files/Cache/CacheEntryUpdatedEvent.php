<?php
/**
 * Test stand-in for OCP\Files\Cache\CacheEntryUpdatedEvent.
 * Mirrors nextcloud/server lib/public/Files/Cache/CacheEntryUpdatedEvent.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 */

declare(strict_types=1);

namespace OCP\Files\Cache;

class CacheEntryUpdatedEvent extends AbstractCacheEvent
{
}
