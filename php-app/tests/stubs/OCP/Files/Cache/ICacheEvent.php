<?php
/**
 * Test stand-in for OCP\Files\Cache\ICacheEvent.
 * Mirrors nextcloud/server lib/public/Files/Cache/ICacheEvent.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 */

declare(strict_types=1);

namespace OCP\Files\Cache;

use OCP\Files\Storage\IStorage;

interface ICacheEvent
{
    public function getStorage(): IStorage;

    public function getPath(): string;

    public function setPath(string $path): void;

    public function getFileId(): int;

    public function getStorageId(): int;
}
