<?php
/**
 * Test stand-in for OCP\Files\Cache\IPropagator.
 * Mirrors nextcloud/server lib/public/Files/Cache/IPropagator.php (Nextcloud 28-31):
 * same namespace, names, parameter and return types; only what harpbridge uses.
 */

declare(strict_types=1);

namespace OCP\Files\Cache;

interface IPropagator
{
    /** Marks $internalPath's parents changed (mtime, etag, size) up to the storage root. */
    public function propagateChange($internalPath, $time, $sizeDifference = 0);
}
