<?php
/**
 * Test stand-in for OCP\Files\Cache\CacheEntryInsertedEvent.
 * Mirrors nextcloud/server lib/public/Files/Cache/CacheEntryInsertedEvent.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 * Checked: signatures (class kind, parent, interfaces; for each method
 * and constant the stand-in declares: parameters, defaults, return type,
 * value) compared by tests/check-stubs.php with OCP/Files/Cache/CacheEntryInsertedEvent.php in nextcloud-deps/ocp, which is
 * nextcloud/server lib/public per branch: stable28 8f6935d8,
 * stable29 b4e88c70, stable30 48ecbcae, stable31 5ac47a53.
 */

declare(strict_types=1);

namespace OCP\Files\Cache;

class CacheEntryInsertedEvent extends AbstractCacheEvent
{
}
