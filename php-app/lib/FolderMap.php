<?php
/**
 * The folder mappings (`occ harp:folder:add`): a Harp folder id <-> a folder
 * in one user's files. Finds the Harp folder and relative path for a node
 * (node events) or for a storage-internal path (cache events), and the
 * Nextcloud storage for an incoming file (the daemon).
 */

declare(strict_types=1);

namespace OCA\Harp;

use OCP\Files\Folder;
use OCP\Files\IRootFolder;

class FolderMap
{
    /** Harp's rule for folder ids. */
    public const ID_PATTERN = '/^[A-Za-z0-9._-]{1,64}$/';

    public function __construct(private Config $config, private IRootFolder $rootFolder)
    {
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
        if (!$storage->isLocal()) {
            throw new \InvalidArgumentException("'$path' is on external storage (" . $storage->getId() . '); Harp syncs folders on this server\'s local disk only.');
        }
        $local = $storage->getLocalFile($node->getInternalPath());
        if (!is_string($local) || !is_dir($local)) {
            throw new \InvalidArgumentException("Cannot find '$path' on disk.");
        }
        $mapping = new Mapping($folderId, $user, $path, (int) $storage->getCache()->getNumericStorageId(), $node->getInternalPath(), rtrim($local, '/'), $devices);
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
     * The mapping and the path relative to it for a node's virtual path
     * (/alice/files/Offices/a.txt). Null when outside every mapping; the
     * mapped folder itself has no relative path and is outside too.
     * @return array{0: Mapping, 1: string}|null
     */
    public function locatePath(string $nodePath): ?array
    {
        foreach ($this->all() as $m) {
            $rel = Mapping::below($m->nodePath(), $nodePath);
            if ($rel !== null && $rel !== '') {
                return [$m, $rel];
            }
        }
        return null;
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
