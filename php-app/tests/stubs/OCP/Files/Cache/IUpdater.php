<?php
/**
 * Stand-in for OCP\Files\Cache\IUpdater (nextcloud/server
 * lib/public/Files/Cache/IUpdater.php): what a storage's updater offers.
 */

declare(strict_types=1);

namespace OCP\Files\Cache;

use OCP\Files\Storage\IStorage;

interface IUpdater
{
    public function getPropagator();

    public function propagate($path, $time = null);

    public function update($path, $time = null, ?int $sizeDifference = null);

    public function remove($path);

    public function renameFromStorage(IStorage $sourceStorage, $source, $target);
}
