<?php
/**
 * One Harp folder mapped to a folder in a user's files: where it is for
 * Nextcloud (user + path, and storage id + internal path, which cache events
 * carry), on disk (the directory the Harp node syncs), and whom it is shared
 * with (the daemon applies this each time it starts).
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
        /** The numeric id of the storage holding it, under every jail (ICache::getNumericStorageId) */
        public readonly int $storageId,
        /** Its path inside that storage: files/Offices/Shared in a home, __groupfolders/7 for a group folder */
        public readonly string $internalPath,
        /** The directory on disk that Harp syncs */
        public readonly string $localPath,
        /** The device IDs it is shared with; null: every trusted device */
        public readonly ?array $devices = null,
        /** Why the daemon paused it (shared with no device until resumed); null: not paused */
        public readonly ?string $paused = null,
    ) {
    }

    public function toArray(): array
    {
        return get_object_vars($this);
    }

    /** The same folder, shared with $devices (null: every trusted device). */
    public function withDevices(?array $devices): self
    {
        return new self($this->folderId, $this->user, $this->path, $this->storageId, $this->internalPath, $this->localPath, $devices === null ? null : array_values($devices), $this->paused);
    }

    /** The same folder, paused for $reason (null: resumed). */
    public function withPaused(?string $reason): self
    {
        return new self($this->folderId, $this->user, $this->path, $this->storageId, $this->internalPath, $this->localPath, $this->devices, $reason);
    }

    /** Whom it is shared with, as the commands say it. */
    public function sharedWith(): string
    {
        return self::describeSharing($this->devices === null, $this->devices ?? []);
    }

    /** "all trusted devices", the IDs, or "no device". */
    public static function describeSharing(bool $all, array $devices): string
    {
        if ($all) {
            return 'all trusted devices';
        }
        return $devices === [] ? 'no device' : implode(', ', $devices);
    }

    public static function fromArray(array $a): self
    {
        return new self((string) $a['folderId'], (string) $a['user'], (string) $a['path'], (int) $a['storageId'], (string) $a['internalPath'], (string) $a['localPath'], isset($a['devices']) && is_array($a['devices']) ? array_values(array_map('strval', $a['devices'])) : null, isset($a['paused']) && is_string($a['paused']) ? $a['paused'] : null);
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
