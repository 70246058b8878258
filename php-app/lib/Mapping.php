<?php
/**
 * One Harp folder mapped to a folder in a user's files: where it is for
 * Nextcloud (user + path, and storage id + internal path, which cache events
 * carry) and on disk (the directory the Harp node syncs).
 */

declare(strict_types=1);

namespace OCA\Harp;

final class Mapping
{
    public function __construct(
        public readonly string $folderId,
        public readonly string $user,
        /** In the user's files, e.g. /Offices/Shared */
        public readonly string $path,
        /** The numeric id of the storage holding it (ICache::getNumericStorageId) */
        public readonly int $storageId,
        /** Its path inside that storage, e.g. files/Offices/Shared */
        public readonly string $internalPath,
        /** The directory on disk that Harp syncs */
        public readonly string $localPath,
    ) {
    }

    /** The path in Nextcloud's virtual filesystem of the mapped folder: /alice/files/Offices/Shared */
    public function nodePath(): string
    {
        return '/' . $this->user . '/files' . rtrim($this->path, '/');
    }

    public function toArray(): array
    {
        return get_object_vars($this);
    }

    public static function fromArray(array $a): self
    {
        return new self((string) $a['folderId'], (string) $a['user'], (string) $a['path'], (int) $a['storageId'], (string) $a['internalPath'], (string) $a['localPath']);
    }

    /** The part of $full below $root ('' for the root itself), or null when $full is outside it. */
    public static function below(string $root, string $full): ?string
    {
        $root = rtrim($root, '/');
        if ($full === $root) {
            return '';
        }
        if ($root === '') {
            return ltrim($full, '/');
        }
        return str_starts_with($full, $root . '/') ? substr($full, strlen($root) + 1) : null;
    }
}
