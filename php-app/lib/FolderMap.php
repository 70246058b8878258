<?php
/**
 * The folder mappings (`occ harp:folder:add`): a Harp folder id <-> a folder
 * in one user's files. Finds the Harp folder and relative path for a node
 * (node events) or for a storage-internal path (cache events), and the
 * Nextcloud storage for an incoming file (the daemon).
 *
 * A mapping is matched by where its files really are: the storage under
 * every jail and the path in it. A group folder is a jail over the root
 * storage at __groupfolders/<id>, mounted in every member's files; a
 * received share is a jail over its owner's storage. Their cache events
 * carry that unjailed storage and path, and a node seen through any mount
 * (a member's, a share recipient's) resolves to it too, so every member's
 * and recipient's changes match, and nothing outside the mapped folder does.
 */

declare(strict_types=1);

namespace OCA\Harp;

use OC\Files\Storage\Wrapper\Jail;
use OC\Files\Storage\Wrapper\Wrapper;
use OCP\Encryption\IManager;
use OCP\Files\Folder;
use OCP\Files\IRootFolder;
use OCP\Files\Node;
use OCP\Files\Storage\IStorage;

class FolderMap
{
    /** Harp's rule for folder ids. */
    public const ID_PATTERN = '/^[A-Za-z0-9._-]{1,64}$/';

    public function __construct(private Config $config, private IRootFolder $rootFolder, private ?IManager $encryption = null)
    {
    }

    /** Why Harp cannot sync files here now (server-side encryption on), or null. */
    public function encryptionReason(): ?string
    {
        return $this->encryption !== null && $this->encryption->isEnabled()
            ? 'server-side encryption is enabled: the files on disk are encrypted, and Harp would send the ciphertext to its peers'
            : null;
    }

    /** @return list<Mapping> */
    public function all(): array
    {
        return array_map(Mapping::fromArray(...), $this->config->mappings());
    }

    public function get(string $folderId): ?Mapping
    {
        foreach ($this->all() as $m) {
            if ($m->folderId === $folderId) {
                return $m;
            }
        }
        return null;
    }

    /**
     * Maps $folderId to $path in $user's files (created if missing), shared
     * with $devices (device IDs; null: every trusted device). The folder must
     * be on local storage: Harp syncs a directory on disk.
     * @throws \InvalidArgumentException with a message for the admin
     */
    public function add(string $folderId, string $user, string $path, ?array $devices = null): Mapping
    {
        if (!preg_match(self::ID_PATTERN, $folderId)) {
            throw new \InvalidArgumentException("'$folderId' is not a valid Harp folder id: use 1 to 64 characters from A-Z a-z 0-9 . _ -, the same on every device.");
        }
        if ($devices !== null) {
            $devices = array_values(array_unique(array_map(DeviceId::normalize(...), $devices)));
        }
        $path = '/' . trim($path, '/');
        try {
            $userFolder = $this->rootFolder->getUserFolder($user);
        } catch (\Throwable $e) {
            throw new \InvalidArgumentException("No user '$user' (" . $e->getMessage() . ').');
        }
        $node = $path === '/' ? $userFolder : ($userFolder->nodeExists($path) ? $userFolder->get($path) : $userFolder->newFolder($path));
        if (!$node instanceof Folder) {
            throw new \InvalidArgumentException("'$path' in $user's files is a file, not a folder.");
        }
        $storage = $node->getStorage();
        $why = $this->encryptionReason();
        if ($why !== null || $storage->instanceOfStorage('\\OC\\Files\\Storage\\Wrapper\\Encryption')) {
            throw new \InvalidArgumentException("'$path' cannot be synced: " . ($why ?? 'its storage is encrypted by Nextcloud, and Harp would send the ciphertext to its peers') . '. Harp syncs unencrypted files on this server\'s disk.');
        }
        if ($storage->instanceOfStorage('\\OC\\Files\\ObjectStore\\ObjectStoreStorage')) {
            throw new \InvalidArgumentException("'$path' is on object storage (" . $storage->getId() . '): Nextcloud keeps its files in S3 or Swift objects, not in a folder on disk, and Harp syncs a folder on this server\'s disk.');
        }
        if (!$storage->isLocal()) {
            throw new \InvalidArgumentException("'$path' is on external storage (" . $storage->getId() . '); Harp syncs folders on this server\'s local disk only.');
        }
        $local = $storage->getLocalFile($node->getInternalPath());
        if (!is_string($local) || !is_dir($local)) {
            throw new \InvalidArgumentException("Cannot find '$path' on disk.");
        }
        [$storageId, $internal] = self::unjailed($storage, $node->getInternalPath());
        $mapping = new Mapping($folderId, $user, $path, $storageId, $internal, rtrim($local, '/'), $devices);
        foreach ($this->all() as $m) {
            if ($m->folderId !== $folderId && ($m->localPath === $mapping->localPath || Mapping::below($m->localPath, $mapping->localPath) !== null || Mapping::below($mapping->localPath, $m->localPath) !== null)) {
                throw new \InvalidArgumentException("'$path' overlaps folder '{$m->folderId}' ({$m->user}: {$m->path}); a file can belong to one Harp folder only.");
            }
        }
        $list = array_filter($this->config->mappings(), fn ($a) => $a['folderId'] !== $folderId);
        $list[] = $mapping->toArray();
        $this->config->setMappings(array_values($list));
        return $mapping;
    }

    /** Records that the daemon paused $folderId for $reason (null: resumed). */
    public function setPaused(string $folderId, ?string $reason): void
    {
        $list = array_map(fn (array $a) => $a['folderId'] === $folderId ? Mapping::fromArray($a)->withPaused($reason)->toArray() : $a, $this->config->mappings());
        $this->config->setMappings(array_values($list));
    }

    /** Unmaps $folderId; false when it was not mapped. */
    public function remove(string $folderId): bool
    {
        $list = $this->config->mappings();
        $kept = array_values(array_filter($list, fn ($a) => $a['folderId'] !== $folderId));
        if (count($kept) === count($list)) {
            return false;
        }
        $this->config->setMappings($kept);
        return true;
    }

    /**
     * Where a storage path really is: the numeric id of the storage under
     * every wrapper and jail, and the path in it (a group folder's
     * "x/y" is the root storage's "__groupfolders/7/x/y").
     * @return array{0: int, 1: string}
     */
    public static function unjailed(IStorage $storage, string $path): array
    {
        // Bounded: wrappers nest a few levels deep (share over group folder over ACL ...).
        for ($i = 0; $i < 64 && $storage instanceof Wrapper; $i++) {
            if ($storage instanceof Jail) {
                $path = $storage->getUnjailedPath($path);
                $storage = $storage->getUnjailedStorage();
            } else {
                $storage = $storage->getWrapperStorage();
            }
        }
        return [(int) $storage->getCache()->getNumericStorageId(), trim($path, '/')];
    }

    /**
     * The mapping and the path relative to it for a node, whichever mount
     * it was seen through. Null when outside every mapping (or the mapped
     * folder itself).
     * @return array{0: Mapping, 1: string}|null
     */
    public function locateNode(Node $node): ?array
    {
        try {
            [$storageId, $path] = self::unjailed($node->getStorage(), (string) $node->getInternalPath());
        } catch (\OCP\Files\NotFoundException) {
            return null;
        }
        return $this->locateInStorage($storageId, $path);
    }

    /**
     * The mappings whose mapped folder is $node or lies below it: deleting
     * or moving $node would take them away.
     * @return list<Mapping>
     */
    public function mappedWithin(Node $node): array
    {
        try {
            [$storageId, $path] = self::unjailed($node->getStorage(), (string) $node->getInternalPath());
        } catch (\OCP\Files\NotFoundException) {
            return [];
        }
        return array_values(array_filter($this->all(), fn (Mapping $m) => $m->storageId === $storageId && Mapping::below($path, $m->internalPath) !== null));
    }

    /**
     * The same for a path in $user's files (the legacy post_write hook).
     * @return array{0: Mapping, 1: string}|null
     */
    public function locateUserPath(string $user, string $pathInFiles): ?array
    {
        try {
            return $this->locateNode($this->rootFolder->getUserFolder($user)->get($pathInFiles));
        } catch (\OCP\Files\NotFoundException) {
            return null;
        }
    }

    /**
     * Records whom $folderId is shared with (null: every trusted device), as
     * the daemon's node has it after a share or unshare.
     */
    public function setDevices(string $folderId, ?array $devices): void
    {
        $list = array_map(fn (array $a) => $a['folderId'] === $folderId ? Mapping::fromArray($a)->withDevices($devices)->toArray() : $a, $this->config->mappings());
        $this->config->setMappings(array_values($list));
    }

    /**
     * The same for a cache event: a storage's numeric id and a path inside it.
     * @return array{0: Mapping, 1: string}|null
     */
    public function locateInStorage(int $storageId, string $internalPath): ?array
    {
        foreach ($this->all() as $m) {
            if ($m->storageId !== $storageId) {
                continue;
            }
            $rel = Mapping::below($m->internalPath, $internalPath);
            if ($rel !== null && $rel !== '') {
                return [$m, $rel];
            }
        }
        return null;
    }

    /** The mapped folder's node, to reach its storage's scanner. */
    public function findFolderNode(Mapping $m): Folder
    {
        $node = $this->rootFolder->getUserFolder($m->user);
        $node = $m->path === '/' ? $node : $node->get($m->path);
        if (!$node instanceof Folder) {
            throw new \RuntimeException("the mapped path {$m->path} of {$m->user} is no longer a folder");
        }
        return $node;
    }
}
