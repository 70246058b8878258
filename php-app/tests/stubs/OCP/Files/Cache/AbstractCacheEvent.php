<?php
/**
 * Test stand-in for OCP\Files\Cache\AbstractCacheEvent.
 * Mirrors nextcloud/server lib/public/Files/Cache/AbstractCacheEvent.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 * Checked: signatures (class kind, parent, interfaces; for each method
 * and constant the stand-in declares: parameters, defaults, return type,
 * value) compared by tests/check-stubs.php with OCP/Files/Cache/AbstractCacheEvent.php in nextcloud-deps/ocp, which is
 * nextcloud/server lib/public per branch: stable28 8f6935d8,
 * stable29 b4e88c70, stable30 48ecbcae, stable31 5ac47a53.
 */

declare(strict_types=1);

namespace OCP\Files\Cache;

use OCP\EventDispatcher\Event;
use OCP\Files\Storage\IStorage;

class AbstractCacheEvent extends Event implements ICacheEvent
{
    public function __construct(protected IStorage $storage, protected string $path, protected int $fileId, protected int $storageId)
    {
        parent::__construct();
    }

    public function getStorage(): IStorage
    {
        return $this->storage;
    }

    public function getPath(): string
    {
        return $this->path;
    }

    public function setPath(string $path): void
    {
        $this->path = $path;
    }

    public function getFileId(): int
    {
        return $this->fileId;
    }

    public function getStorageId(): int
    {
        return $this->storageId;
    }
}
