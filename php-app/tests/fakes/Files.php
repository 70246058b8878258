<?php
/**
 * The stand-in filesystem, modelled on nextcloud/server where harpbridge
 * depends on it. The real files and the commits they were read at:
 * lib/private/Files/Storage/Wrapper/Jail.php, Files/Cache/Updater.php,
 * Files/Cache/Propagator.php and AppFramework/Middleware/Security/
 * PasswordConfirmationMiddleware.php at
 * 001260223e544b6b583cbd9a9a87f11273c1642d; Files/Storage/Wrapper/
 * Wrapper.php at 4b9879db3d95268d9ef6df3e16eb9e0d4d7c83c0; Files/Cache/
 * Scanner.php at ffa490617023635ef915fdd3f6c77195f93a1e2b;
 * Lock/DBLockingProvider.php at 592f2ec8bf7518c11ca75a671ead50e376a291cc;
 * apps/files_trashbin/lib/Trashbin.php at
 * 074fcdf3c166f4e7275909821c44be08331984a1; apps/files_sharing/lib/
 * SharedStorage.php at 012629b47b9b8d83c19fab16cf142d52daef1fdf;
 * Files/FilenameValidator.php at 19c73545ce95c37233865f61f87b0cdbc7abbf19;
 * groupfolders lib/Mount/FolderStorageManager.php at
 * 00c118ef87f6332d028d51d2d4460c364222105f.
 *
 * - Storages: the root storage (OC\Files\Storage\Local over the data
 *   directory, id "local::<datadir>/"), one home storage per user
 *   (OC\Files\Storage\Home, id "home::<user>", <data>/<user>), and the
 *   wrappers in tests/stubs/OC/Files/Storage/Wrapper (Wrapper, Jail).
 * - Mounts (what IRootFolder resolves a path like /bob/files/Team/x with):
 *   a user's home at /<user>; a group folder (groupfolders'
 *   FolderStorageManager::getBaseStorageForFolderRootJail) as a Jail over
 *   the root storage at __groupfolders/<id>, mounted at
 *   /<member>/files/<mount point> for every member; a received share
 *   (apps/files_sharing/lib/SharedStorage.php at
 *   012629b47b9b8d83c19fab16cf142d52daef1fdf) as a Jail over a
 *   PermissionsMask over the owner's storage at the shared node's internal
 *   path, mounted at /<recipient>/files/<target>.
 * - The file cache per storage (OC\Files\Cache\Cache), persisted as JSON
 *   so every process of one stand-in server shares it, as they share the
 *   database. Inserts, updates and removals dispatch the Cache*Event with
 *   the cache's own storage and path: through a CacheJail, the unjailed
 *   ones. move() dispatches one CacheEntryUpdatedEvent for the new path.
 * - Scanner (OC\Files\Cache\Scanner): scanFile takes a shared lock unless
 *   told not to and throws LockedException when the path is locked
 *   exclusively (an upload in progress); it adds missing parents and never
 *   changes a parent's size.
 * - Updater and Propagator (lib/private/Files/Cache/Updater.php and
 *   Propagator.php): update() scans one path and propagates the size
 *   difference, a new etag and the mtime to every parent up to the
 *   storage's root; a Jail's propagator (JailPropagator) does so in the
 *   wrapped storage. remove() subtracts the removed size.
 * - Locks (OC\Lock\DBLockingProvider): a lock table shared by every process
 *   of the stand-in server; keys as Common::acquireLock builds them.
 * - verifyPath: the rules of OC\Files\FilenameValidator at
 *   19c73545ce95c37233865f61f87b0cdbc7abbf19 with the default config.
 *
 * Every scanner, updater and propagator call is appended to
 * <root>/scanner.log for the tests to read.
 */

declare(strict_types=1);

namespace OCA\Harp\Tests\Fake;

use OC\Files\Storage\Wrapper\Jail;
use OC\Files\Storage\Wrapper\Wrapper;
use OCP\EventDispatcher\IEventDispatcher;
use OCP\Files\Cache\CacheEntryInsertedEvent;
use OCP\Files\Cache\CacheEntryRemovedEvent;
use OCP\Files\Cache\CacheEntryUpdatedEvent;
use OCP\Files\Cache\ICache;
use OCP\Files\Cache\IPropagator;
use OCP\Files\Cache\IScanner;
use OCP\Files\Cache\IUpdater;
use OCP\Files\FileInfo;
use OCP\Files\Folder;
use OCP\Files\IHomeStorage;
use OCP\Files\InvalidPathException;
use OCP\Files\IRootFolder;
use OCP\Files\Node;
use OCP\Files\NotFoundException;
use OCP\Files\Storage\IStorage;
use OCP\Lock\ILockingProvider;
use OCP\Lock\LockedException;

/** What every storage of one stand-in server shares: its directory, event dispatcher and lock table. */
final class Site
{
    public readonly FileLocks $locks;

    public function __construct(public readonly string $root, public readonly IEventDispatcher $events)
    {
        $this->locks = new FileLocks("$root/locks.json");
    }

    public function log(string $call, IStorage $storage, string $path): void
    {
        file_put_contents("{$this->root}/scanner.log", json_encode(['call' => $call, 'storage' => $storage->getId(), 'path' => $path], JSON_UNESCAPED_SLASHES) . "\n", FILE_APPEND | LOCK_EX);
    }

    /** The base storage (Local or Home) under any wrappers. */
    public static function base(IStorage $storage): Local
    {
        while ($storage instanceof Wrapper) {
            $storage = $storage->getWrapperStorage();
        }
        if (!$storage instanceof Local) {
            throw new \LogicException('not a stand-in storage');
        }
        return $storage;
    }

    /** @return array{0: Local, 1: string} the base storage and the path in it (every jail undone) */
    public static function unjail(IStorage $storage, string $path): array
    {
        while ($storage instanceof Wrapper) {
            if ($storage instanceof Jail) {
                $path = $storage->getUnjailedPath($path);
                $storage = $storage->getUnjailedStorage();
            } else {
                $storage = $storage->getWrapperStorage();
            }
        }
        return [self::base($storage), $path];
    }
}

/** OC\Lock\DBLockingProvider: per key, a count of shared locks or -1 for an exclusive one; shared across processes. */
final class FileLocks implements ILockingProvider
{
    public function __construct(private string $file)
    {
    }

    /** Runs $fn on the table under an exclusive flock; $fn returns [result, new table]. */
    private function with(callable $fn): mixed
    {
        $h = fopen($this->file, 'c+');
        flock($h, LOCK_EX);
        $table = json_decode((string) stream_get_contents($h), true) ?: [];
        try {
            [$result, $table] = $fn($table);
            ftruncate($h, 0);
            rewind($h);
            fwrite($h, (string) json_encode($table));
            return $result;
        } finally {
            flock($h, LOCK_UN);
            fclose($h);
        }
    }

    public function isLocked(string $path, int $type): bool
    {
        return $this->with(fn (array $t) => [$type === self::LOCK_SHARED ? ($t[$path] ?? 0) > 0 : ($t[$path] ?? 0) === -1, $t]);
    }

    public function acquireLock(string $path, int $type, ?string $readablePath = null): void
    {
        $this->with(function (array $t) use ($path, $type, $readablePath) {
            $held = $t[$path] ?? 0;
            if ($held === -1 || ($type === self::LOCK_EXCLUSIVE && $held !== 0)) {
                throw new LockedException($path, null, null, $readablePath);
            }
            $t[$path] = $type === self::LOCK_EXCLUSIVE ? -1 : $held + 1;
            return [null, $t];
        });
    }

    public function releaseLock(string $path, int $type): void
    {
        $this->with(function (array $t) use ($path, $type) {
            $held = $t[$path] ?? 0;
            $left = $type === self::LOCK_EXCLUSIVE || $held <= 1 ? 0 : $held - 1;
            if ($left === 0) {
                unset($t[$path]);
            } else {
                $t[$path] = $left;
            }
            return [null, $t];
        });
    }
}

/** OC\Files\Storage\Local: a directory on disk. */
class Local implements IStorage
{
    public function __construct(public readonly string $dir, public readonly Site $site)
    {
    }

    public function getId()
    {
        return 'local::' . rtrim($this->dir, '/') . '/';
    }

    public function numericId(): int
    {
        return crc32($this->getId()) & 0x7fffffff;
    }

    public function getLocalFile($path)
    {
        return rtrim($this->dir . '/' . ltrim((string) $path, '/'), '/');
    }

    public function isLocal()
    {
        return true;
    }

    public function getCache($path = '', $storage = null)
    {
        return new Cache($storage ?? $this, $this->numericId(), $this->site, "{$this->site->root}/filecache-{$this->numericId()}.json");
    }

    public function getScanner($path = '', $storage = null)
    {
        return new Scanner($storage ?? $this);
    }

    public function getPropagator($storage = null)
    {
        return new Propagator($storage ?? $this);
    }

    public function getUpdater($storage = null)
    {
        return new Updater($storage ?? $this);
    }

    public function instanceOfStorage($class)
    {
        return is_a($this, ltrim($class, '\\'));
    }

    /** FilenameValidator::validateFilename with the default config. */
    public function verifyPath($path, $fileName)
    {
        $name = (string) $fileName;
        $lower = mb_strtolower($name);
        $reason = match (true) {
            trim($name) === '' => 'Empty filename is not allowed',
            trim($name) === '.' || trim($name) === '..' => 'Dot files are not allowed',
            isset($name[250]) => 'Filename is too long',
            $lower === '.htaccess' => "\"$lower\" is a forbidden file or folder name.",
            str_ends_with($lower, '.filepart') => '".filepart" is a forbidden file type.',
            str_ends_with($lower, '.part') => '".part" is a forbidden file type.',
            filter_var($name, FILTER_UNSAFE_RAW, FILTER_FLAG_STRIP_LOW) !== $name => 'Invalid character in filename',
            str_contains($name, '\\') => '"\\" is not allowed inside a file or folder name.',
            default => null,
        };
        if ($reason !== null) {
            throw new InvalidPathException($reason);
        }
    }

    public function file_exists($path)
    {
        clearstatcache();
        return file_exists($this->getLocalFile($path));
    }

    public function is_dir($path)
    {
        clearstatcache();
        return is_dir($this->getLocalFile($path));
    }

    public function filesize($path)
    {
        clearstatcache();
        return $this->is_dir($path) ? 0 : (int) @filesize($this->getLocalFile($path));
    }

    public function filemtime($path)
    {
        clearstatcache();
        return @filemtime($this->getLocalFile($path));
    }

    /** Common::acquireLock's key: files/md5(storage id :: path). */
    private function lockKey(string $path): string
    {
        return 'files/' . md5($this->getId() . '::' . trim($path, '/'));
    }

    public function acquireLock($path, $type, ILockingProvider $provider)
    {
        $provider->acquireLock($this->lockKey((string) $path), $type, $this->getId() . '::' . $path);
    }

    public function releaseLock($path, $type, ILockingProvider $provider)
    {
        $provider->releaseLock($this->lockKey((string) $path), $type);
    }
}

/** OC\Files\Storage\Home: a user's storage (files/, files_trashbin/, files_versions/, ...). */
final class Home extends Local implements IHomeStorage
{
    public function __construct(public readonly string $user, string $dir, Site $site)
    {
        parent::__construct($dir, $site);
    }

    public function getId()
    {
        return 'home::' . $this->user;
    }
}

/** OC\Files\Storage\Wrapper\PermissionsMask: passes everything through here (permissions are not modelled). */
final class PermissionsMask extends Wrapper
{
}

/** OCA\Files_Sharing\SharedStorage: a Jail over a PermissionsMask over the owner's storage, at the shared node. */
final class SharedStorage extends Jail
{
    public function __construct(IStorage $ownerStorage, string $sourceInternalPath, public readonly string $owner, public readonly string $target)
    {
        parent::__construct(['storage' => new PermissionsMask(['storage' => $ownerStorage]), 'root' => $sourceInternalPath]);
    }

    public function getId()
    {
        return 'shared::' . $this->target;
    }

    public function instanceOfStorage($class)
    {
        return ltrim($class, '\\') === IHomeStorage::class ? false : parent::instanceOfStorage($class);
    }
}

/** OC\Files\Cache\Cache: one storage's file cache. Entries are arrays: fileid, size, mtime, etag, type. */
final class Cache implements ICache
{
    public function __construct(private IStorage $storage, private int $numericId, private Site $site, private string $file)
    {
    }

    public function getNumericStorageId()
    {
        return $this->numericId;
    }

    /** @return array<string, array{fileid: int, size: int, mtime: int, etag: string, type: string}> */
    public function all(): array
    {
        clearstatcache();
        return is_file($this->file) ? (json_decode((string) file_get_contents($this->file), true) ?: []) : [];
    }

    public function get($file)
    {
        $e = $this->all()[trim((string) $file, '/')] ?? null;
        return $e === null ? false : $e + ['path' => trim((string) $file, '/')];
    }

    public function inCache($file): bool
    {
        return isset($this->all()[trim((string) $file, '/')]);
    }

    /**
     * Runs $fn on the entries under an exclusive lock (each change is one
     * transaction, as with the database, however many processes of the
     * server change the cache at once); $fn returns the new entries.
     */
    private function mutate(callable $fn): void
    {
        $h = fopen($this->file . '.lock', 'c');
        flock($h, LOCK_EX);
        try {
            $this->save($fn($this->all()));
        } finally {
            flock($h, LOCK_UN);
            fclose($h);
        }
    }

    /** Inserts or updates an entry (CacheEntryInsertedEvent / CacheEntryUpdatedEvent). */
    public function put(string $path, array $data): void
    {
        $old = null;
        $this->mutate(function (array $all) use ($path, &$data, &$old) {
            $old = $all[$path] ?? null;
            $data = array_merge($old ?? [], $data);
            $data['fileid'] = $old['fileid'] ?? (crc32($this->numericId . ':' . $path . ':' . microtime()) & 0x7fffffff);
            $all[$path] = $data;
            return $all;
        });
        $event = $old === null ? CacheEntryInsertedEvent::class : CacheEntryUpdatedEvent::class;
        $this->site->events->dispatchTyped(new $event($this->storage, $path, $data['fileid'], $this->numericId));
    }

    /** Changes entries without an event, as the Propagator's direct SQL does. */
    public function quietly(callable $fn): void
    {
        $this->mutate($fn);
    }

    public function remove($file): void
    {
        $path = trim((string) $file, '/');
        $removed = [];
        $this->mutate(function (array $all) use ($path, &$removed) {
            foreach ($all as $p => $d) {
                if ($p === $path || str_starts_with($p, $path . '/')) {
                    $removed[$p] = $d['fileid'];
                    unset($all[$p]);
                }
            }
            return $all;
        });
        foreach ($removed as $p => $id) {
            $this->site->events->dispatchTyped(new CacheEntryRemovedEvent($this->storage, $p, $id, $this->numericId));
        }
    }

    /** Cache::move (moveFromCache): one CacheEntryUpdatedEvent for the moved entry at its new path. */
    public function move($from, $to): void
    {
        $id = -1;
        $this->mutate(function (array $all) use ($from, $to, &$id) {
            $id = $all[$from]['fileid'] ?? -1;
            foreach ($all as $p => $d) {
                if ($p === $from || str_starts_with($p, $from . '/')) {
                    unset($all[$p]);
                    $all[$to . substr($p, strlen($from))] = $d;
                }
            }
            return $all;
        });
        $this->site->events->dispatchTyped(new CacheEntryUpdatedEvent($this->storage, $to, $id, $this->numericId));
    }

    /** Cache::correctFolderSize: each folder above $path gets the sum of its children's sizes again. */
    public function correctFolderSize(string $path): void
    {
        $this->quietly(function (array $all) use ($path) {
            for ($p = self::parentOf($path); $p !== null; $p = self::parentOf($p)) {
                if (!isset($all[$p])) {
                    continue;
                }
                $sum = 0;
                foreach ($all as $q => $d) {
                    if (self::parentOf($q) === $p && $q !== $p) {
                        $sum += max(0, (int) $d['size']);
                    }
                }
                $all[$p]['size'] = $sum;
            }
            return $all;
        });
    }

    /** The parent of an internal path: '' for a top-level one, null for ''. */
    public static function parentOf(string $path): ?string
    {
        if ($path === '') {
            return null;
        }
        $d = dirname($path);
        return $d === '.' ? '' : $d;
    }

    private function save(array $all): void
    {
        ksort($all);
        // Readers never see a half-written file.
        $tmp = $this->file . '.' . getmypid() . '.tmp';
        file_put_contents($tmp, json_encode($all, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES));
        rename($tmp, $this->file);
    }
}

/** OC\Files\Cache\Wrapper\CacheJail: a cache seen from below its root; the source cache (and its events) see unjailed paths. */
final class CacheJail implements ICache
{
    public function __construct(private Cache|CacheJail $source, private string $root)
    {
    }

    private function src(string $path): string
    {
        return trim($this->root . '/' . trim($path, '/'), '/');
    }

    public function getNumericStorageId()
    {
        return $this->source->getNumericStorageId();
    }

    public function get($file)
    {
        $e = $this->source->get($this->src((string) $file));
        return $e === false ? false : ['path' => trim((string) $file, '/')] + $e;
    }

    public function inCache($file): bool
    {
        return $this->source->inCache($this->src((string) $file));
    }

    public function all(): array
    {
        $out = [];
        foreach ($this->source->all() as $p => $d) {
            if ($p === $this->root || str_starts_with($p, $this->root . '/')) {
                $out[trim(substr($p, strlen($this->root)), '/')] = $d;
            }
        }
        return $out;
    }

    public function put(string $path, array $data): void
    {
        $this->source->put($this->src($path), $data);
    }

    public function quietly(callable $fn): void
    {
        throw new \LogicException('propagation happens in the source storage (JailPropagator)');
    }

    public function remove($file): void
    {
        $this->source->remove($this->src((string) $file));
    }

    public function move($from, $to): void
    {
        $this->source->move($this->src((string) $from), $this->src((string) $to));
    }

    public function correctFolderSize(string $path): void
    {
        $this->source->correctFolderSize($this->src($path));
    }
}

/** OC\Files\Cache\Scanner over any storage (through its cache, so events are the unjailed ones). */
final class Scanner implements IScanner
{
    private Site $site;

    public function __construct(private IStorage $storage)
    {
        $this->site = Site::base($storage)->site;
    }

    public function scanFile($file, $reuseExisting = 0, $parentId = -1, $cacheData = null, $lock = true)
    {
        $file = trim((string) $file, '/');
        $this->site->log('scanFile', $this->storage, $file);
        if ($lock) {
            $this->storage->acquireLock($file, ILockingProvider::LOCK_SHARED, $this->site->locks);
        }
        try {
            $cache = $this->storage->getCache();
            if (!$this->storage->file_exists($file)) {
                if ($cache->inCache($file)) {
                    $cache->remove($file);
                }
                return null;
            }
            $parent = Cache::parentOf($file);
            if ($parent !== null && $parent !== '' && !$cache->inCache($parent)) {
                $this->scanFile($parent, $reuseExisting, -1, null, false);
            }
            $old = $cache->get($file);
            $dir = $this->storage->is_dir($file);
            $data = [
                'size' => $dir ? (int) ($old['size'] ?? 0) : (int) $this->storage->filesize($file),
                'mtime' => (int) $this->storage->filemtime($file),
                'etag' => $old !== false && $dir && ($reuseExisting & self::REUSE_ETAG) ? $old['etag'] : uniqid(),
                'type' => $dir ? FileInfo::TYPE_FOLDER : FileInfo::TYPE_FILE,
            ];
            if ($old === false || $old['size'] !== $data['size'] || $old['mtime'] !== $data['mtime'] || $old['type'] !== $data['type']) {
                $cache->put($file, $data);
            }
            if ($old !== false) {
                $data['oldSize'] = $old['size'];
            }
            return $data;
        } finally {
            if ($lock) {
                $this->storage->releaseLock($file, ILockingProvider::LOCK_SHARED, $this->site->locks);
            }
        }
    }

    /** Scans $path and (recursively) what is below it; a folder's size becomes the sum of its children's. */
    public function scan($path, $recursive = self::SCAN_RECURSIVE, $reuse = -1, $lock = true)
    {
        $path = trim((string) $path, '/');
        if ($lock) {
            $this->storage->acquireLock($path, ILockingProvider::LOCK_SHARED, $this->site->locks);
        }
        try {
            $data = $this->scanFile($path, $reuse === -1 ? 0 : $reuse, -1, null, false);
            if ($data === null || $data['type'] !== FileInfo::TYPE_FOLDER || $recursive === self::SCAN_SHALLOW) {
                return $data;
            }
            $local = $this->storage->getLocalFile($path);
            $seen = [];
            foreach (scandir($local) ?: [] as $f) {
                if ($f === '.' || $f === '..' || self::isPartialFile($f)) {
                    continue;
                }
                $child = ltrim("$path/$f", '/');
                $seen[$child] = true;
                $this->scan($child, $recursive, $reuse, $lock);
            }
            $cache = $this->storage->getCache();
            $size = 0;
            foreach ($cache->all() as $p => $d) {
                if (Cache::parentOf($p) === $path && $p !== $path) {
                    if (!isset($seen[$p])) {
                        $cache->remove($p);
                    } else {
                        $size += max(0, (int) $d['size']);
                    }
                }
            }
            if ($size !== (int) $data['size']) {
                $cache->put($path, ['size' => $size]);
                $data['size'] = $size;
            }
            return $data;
        } finally {
            if ($lock) {
                $this->storage->releaseLock($path, ILockingProvider::LOCK_SHARED, $this->site->locks);
            }
        }
    }

    public static function isPartialFile($file)
    {
        return str_ends_with((string) $file, '.part');
    }

    public function backgroundScan()
    {
    }
}

/** OC\Files\Cache\Propagator: size difference, new etag and mtime for every parent up to the storage's root, with no event. */
final class Propagator implements IPropagator
{
    public function __construct(private IStorage $storage)
    {
    }

    public function propagateChange($internalPath, $time, $sizeDifference = 0)
    {
        $path = trim((string) $internalPath, '/');
        Site::base($this->storage)->site->log('propagateChange', $this->storage, $path);
        $this->storage->getCache()->quietly(function (array $all) use ($path, $time, $sizeDifference) {
            for ($p = Cache::parentOf($path); $p !== null; $p = Cache::parentOf($p)) {
                if (!isset($all[$p])) {
                    continue;
                }
                $all[$p]['etag'] = uniqid();
                $all[$p]['mtime'] = max((int) $all[$p]['mtime'], (int) $time);
                if ((int) $all[$p]['size'] >= 0) {
                    $all[$p]['size'] = (int) $all[$p]['size'] + (int) $sizeDifference;
                }
            }
            return $all;
        });
    }
}

/** OC\Files\Cache\Wrapper\JailPropagator: propagates in the jailed storage's source, up to its root. */
final class JailPropagator implements IPropagator
{
    public function __construct(private Jail $storage)
    {
    }

    public function propagateChange($internalPath, $time, $sizeDifference = 0)
    {
        [$storage, $path] = $this->storage->resolvePath((string) $internalPath);
        $storage->getPropagator()->propagateChange($path, $time, $sizeDifference);
    }
}

/** OC\Files\Cache\Updater (lib/private/Files/Cache/Updater.php): how Nextcloud brings one change into its cache. */
final class Updater implements IUpdater
{
    public function __construct(private IStorage $storage)
    {
    }

    public function getPropagator()
    {
        return $this->storage->getPropagator();
    }

    public function propagate($path, $time = null)
    {
        if (!Scanner::isPartialFile($path)) {
            $this->storage->getPropagator()->propagateChange($path, $time ?? time());
        }
    }

    public function update($path, $time = null, ?int $sizeDifference = null)
    {
        if (Scanner::isPartialFile($path)) {
            return;
        }
        Site::base($this->storage)->site->log('update', $this->storage, trim((string) $path, '/'));
        $data = $this->storage->getScanner()->scan($path, IScanner::SCAN_SHALLOW, -1, false);
        if (isset($data['oldSize'], $data['size'])) {
            $sizeDifference = $data['size'] - $data['oldSize'];
        }
        if ($sizeDifference === null) {
            $this->storage->getCache()->correctFolderSize((string) $path);
        }
        $this->storage->getPropagator()->propagateChange($path, $time ?? time(), $sizeDifference ?? 0);
    }

    public function remove($path)
    {
        if (Scanner::isPartialFile($path)) {
            return;
        }
        Site::base($this->storage)->site->log('remove', $this->storage, trim((string) $path, '/'));
        $cache = $this->storage->getCache();
        $entry = $cache->get($path);
        $cache->remove($path);
        if ($entry !== false) {
            $this->storage->getPropagator()->propagateChange($path, time(), -(int) $entry['size']);
        } else {
            $this->storage->getPropagator()->propagateChange($path, time());
            $cache->correctFolderSize((string) $path);
        }
    }

    /** Both storages' caches, as Updater::renameFromStorage: a move in one cache, else removed + inserted. */
    public function renameFromStorage(IStorage $sourceStorage, $source, $target)
    {
        [$src, $tgt] = [$sourceStorage->getCache(), $this->storage->getCache()];
        if ($src->getNumericStorageId() === $tgt->getNumericStorageId()) {
            [$bs, $bsPath] = Site::unjail($sourceStorage, (string) $source);
            [, $btPath] = Site::unjail($this->storage, (string) $target);
            $bs->getCache()->move($bsPath, $btPath);
        } else {
            $src->remove($source);
            $this->storage->getScanner()->scan($target, IScanner::SCAN_RECURSIVE, -1, false);
        }
        $src->correctFolderSize((string) $source);
        $tgt->correctFolderSize((string) $target);
        $sourceStorage->getPropagator()->propagateChange($source, time());
        $this->storage->getPropagator()->propagateChange($target, time());
    }
}

/** A file or folder node: a path in the virtual filesystem (/alice/files/x), on the storage its mount gives. */
class FakeNode implements Node
{
    public function __construct(protected RootFolder $root, protected string $path, protected ?string $type = null)
    {
    }

    public function getPath()
    {
        return $this->path;
    }

    /** @return array{0: IStorage, 1: string} */
    public function resolved(): array
    {
        return $this->root->resolve($this->path);
    }

    public function getInternalPath()
    {
        return $this->resolved()[1];
    }

    public function getStorage()
    {
        return $this->resolved()[0];
    }

    public function getName()
    {
        return basename($this->path);
    }

    public function getId()
    {
        [$st, $p] = $this->resolved();
        $e = $st->getCache()->get($p);
        return $e === false ? null : $e['fileid'];
    }

    public function getType()
    {
        [$st, $p] = $this->resolved();
        return $this->type ?? ($st->is_dir($p) ? FileInfo::TYPE_FOLDER : FileInfo::TYPE_FILE);
    }

    public function getSize($includeMounts = true)
    {
        [$st, $p] = $this->resolved();
        return (int) $st->filesize($p);
    }

    public function getParent()
    {
        return new FakeFolder($this->root, dirname($this->path));
    }
}

final class FakeFile extends FakeNode implements \OCP\Files\File
{
    public function getContent()
    {
        [$st, $p] = $this->resolved();
        return (string) file_get_contents($st->getLocalFile($p));
    }
}

final class FakeFolder extends FakeNode implements Folder
{
    public function get($path)
    {
        $full = rtrim($this->path, '/') . '/' . trim((string) $path, '/');
        [$st, $p] = $this->root->resolve($full);
        if (!$st->file_exists($p)) {
            throw new NotFoundException("$path not found");
        }
        return $st->is_dir($p) ? new FakeFolder($this->root, $full) : new FakeFile($this->root, $full);
    }

    public function nodeExists($path)
    {
        try {
            $this->get($path);
            return true;
        } catch (NotFoundException) {
            return false;
        }
    }

    public function newFolder($path)
    {
        $full = rtrim($this->path, '/') . '/' . trim((string) $path, '/');
        [$st, $p] = $this->root->resolve($full);
        @mkdir($st->getLocalFile($p), 0777, true);
        $st->getUpdater()->update($p);
        return new FakeFolder($this->root, $full);
    }
}

/**
 * IRootFolder with the mount table: homes, group folders and received
 * shares, kept in <root>/mounts.json (every process of the server sees the
 * same mounts, as they come from the database).
 */
final class RootFolder extends FakeNode implements IRootFolder
{
    public readonly Site $site;

    public function __construct(private string $dataDir, IEventDispatcher $events, string $root)
    {
        $this->site = new Site($root, $events);
    }

    public function rootStorage(): Local
    {
        return new Local($this->dataDir, $this->site);
    }

    public function storage(string $user): Home
    {
        return new Home($user, "{$this->dataDir}/$user", $this->site);
    }

    /** @return array{groupfolders: list<array>, shares: list<array>} */
    public function mounts(): array
    {
        $f = "{$this->site->root}/mounts.json";
        clearstatcache();
        $m = is_file($f) ? json_decode((string) file_get_contents($f), true) : null;
        return is_array($m) ? $m + ['groupfolders' => [], 'shares' => []] : ['groupfolders' => [], 'shares' => []];
    }

    public function setMounts(array $m): void
    {
        file_put_contents("{$this->site->root}/mounts.json", json_encode($m, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES), LOCK_EX);
    }

    /**
     * The storage and internal path of a virtual path, from the mount whose
     * mount point is its longest prefix.
     * @return array{0: IStorage, 1: string}
     */
    public function resolve(string $path): array
    {
        $path = '/' . trim($path, '/');
        $user = explode('/', $path)[1] ?? '';
        $m = $this->mounts();
        $home = in_array($user, $m['object_homes'] ?? [], true)
            ? fn () => new \OC\Files\ObjectStore\ObjectStoreStorage($user, "{$this->dataDir}/$user", $this->site)
            : fn () => $this->storage($user);
        $best = ['/' . $user, $home];
        $consider = function (string $mountPoint, callable $storage) use ($path, &$best) {
            if (($path === $mountPoint || str_starts_with($path, $mountPoint . '/')) && strlen($mountPoint) > strlen($best[0])) {
                $best = [$mountPoint, $storage];
            }
        };
        foreach ($m['groupfolders'] as $gf) {
            if (in_array($user, $gf['members'], true)) {
                $consider("/$user/files/" . trim($gf['mount_point'], '/'), fn () => new Jail(['storage' => $this->rootStorage(), 'root' => '__groupfolders/' . $gf['id']]));
            }
        }
        foreach ($m['shares'] as $sh) {
            if ($sh['recipient'] === $user) {
                $consider("/$user/files/" . trim($sh['target'], '/'), function () use ($sh) {
                    [$ownerStorage, $sourceInternal] = $this->resolve("/{$sh['owner']}/files/" . trim($sh['source'], '/'));
                    return new SharedStorage($ownerStorage, $sourceInternal, $sh['owner'], $sh['target']);
                });
            }
        }
        return [($best[1])(), trim(substr($path, strlen($best[0])), '/')];
    }

    public function getUserFolder($userId)
    {
        if (!is_dir("{$this->dataDir}/$userId/files")) {
            throw new NotFoundException("no user $userId");
        }
        return new FakeFolder($this, "/$userId/files");
    }

    public function getPath()
    {
        return '/';
    }

    public function get($path)
    {
        throw new NotFoundException('not used by harpbridge');
    }

    public function nodeExists($path)
    {
        return false;
    }

    public function newFolder($path)
    {
        throw new NotFoundException('not used by harpbridge');
    }
}
