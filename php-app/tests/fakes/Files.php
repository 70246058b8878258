<?php
/**
 * The stand-in filesystem: one local "home" storage per user under the data
 * directory (<data>/<user>/files/...), a file cache per storage persisted
 * as JSON (so every process of one stand-in server shares it, as they share
 * Nextcloud's database), and the scanner that fills it.
 *
 * Like Nextcloud's OC\Files\Cache\Cache, every insert, update and removal
 * dispatches CacheEntryInsertedEvent / CacheEntryUpdatedEvent /
 * CacheEntryRemovedEvent; like OC\Files\Cache\Scanner::scanFile, scanning a
 * path that is gone removes it, and missing parents are added first. Every
 * scanner call is appended to <root>/scanner.log for the tests to read.
 */

declare(strict_types=1);

namespace OCA\Harp\Tests\Fake;

use OCP\EventDispatcher\IEventDispatcher;
use OCP\Files\Cache\CacheEntryInsertedEvent;
use OCP\Files\Cache\CacheEntryRemovedEvent;
use OCP\Files\Cache\CacheEntryUpdatedEvent;
use OCP\Files\Cache\ICache;
use OCP\Files\Cache\IPropagator;
use OCP\Files\Cache\IScanner;
use OCP\Files\FileInfo;
use OCP\Files\Folder;
use OCP\Files\IRootFolder;
use OCP\Files\Node;
use OCP\Files\NotFoundException;
use OCP\Files\Storage\IStorage;

final class HomeStorage implements IStorage
{
    public function __construct(public readonly string $user, public readonly string $dir, private IEventDispatcher $events, private string $root)
    {
    }

    public function getId()
    {
        return 'home::' . $this->user;
    }

    public function numericId(): int
    {
        return crc32($this->getId()) & 0x7fffffff;
    }

    public function getLocalFile($path)
    {
        return rtrim($this->dir . '/' . $path, '/');
    }

    public function isLocal()
    {
        return true;
    }

    public function getCache($path = '', $storage = null)
    {
        return new FileCache($this, $this->events, "{$this->root}/filecache-{$this->numericId()}.json");
    }

    public function getScanner()
    {
        return new Scanner($this, "{$this->root}/scanner.log");
    }

    public function getPropagator()
    {
        return new Propagator($this, "{$this->root}/scanner.log");
    }
}

final class FileCache implements ICache
{
    public function __construct(private HomeStorage $storage, private IEventDispatcher $events, private string $file)
    {
    }

    public function getNumericStorageId()
    {
        return $this->storage->numericId();
    }

    /** @return array<string, array{fileid: int, size: int, mtime: int, etag: string, type: string}> */
    public function all(): array
    {
        return is_file($this->file) ? (json_decode((string) file_get_contents($this->file), true) ?: []) : [];
    }

    public function get($file)
    {
        return false; // entries are read with all() in the tests
    }

    public function put(string $path, array $data): void
    {
        $all = $this->all();
        $old = $all[$path] ?? null;
        $data['fileid'] = $old['fileid'] ?? (count($all) + 1 + random_int(0, 1 << 20));
        $all[$path] = $data;
        $this->save($all);
        $event = $old === null ? CacheEntryInsertedEvent::class : CacheEntryUpdatedEvent::class;
        $this->events->dispatchTyped(new $event($this->storage, $path, $data['fileid'], $this->storage->numericId()));
    }

    public function remove(string $path): void
    {
        $all = $this->all();
        $removed = [];
        foreach ($all as $p => $d) {
            if ($p === $path || str_starts_with($p, $path . '/')) {
                $removed[$p] = $d['fileid'];
                unset($all[$p]);
            }
        }
        $this->save($all);
        foreach ($removed as $p => $id) {
            $this->events->dispatchTyped(new CacheEntryRemovedEvent($this->storage, $p, $id, $this->storage->numericId()));
        }
    }

    /**
     * Moves entries within this storage, as OC\Files\Cache\Cache::move
     * (moveFromCache) does for a rename through Nextcloud: one
     * CacheEntryUpdatedEvent for the moved entry at its new path, none for
     * the entries below it. (Across storages Nextcloud dispatches
     * CacheEntryRemovedEvent + CacheEntryInsertedEvent instead.)
     */
    public function move(string $from, string $to): void
    {
        $all = $this->all();
        $id = $all[$from]['fileid'] ?? -1;
        foreach ($all as $p => $d) {
            if ($p === $from || str_starts_with($p, $from . '/')) {
                unset($all[$p]);
                $all[$to . substr($p, strlen($from))] = $d;
            }
        }
        $this->save($all);
        $this->events->dispatchTyped(new CacheEntryUpdatedEvent($this->storage, $to, $id, $this->storage->numericId()));
    }

    private function save(array $all): void
    {
        ksort($all);
        file_put_contents($this->file, json_encode($all, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES), LOCK_EX);
    }
}

final class Scanner implements IScanner
{
    public function __construct(private HomeStorage $storage, private string $log)
    {
    }

    public function scanFile($file, $reuseExisting = 0, $parentId = -1, $cacheData = null, $lock = true)
    {
        file_put_contents($this->log, json_encode(['call' => 'scanFile', 'storage' => $this->storage->getId(), 'path' => $file]) . "\n", FILE_APPEND | LOCK_EX);
        $cache = $this->storage->getCache();
        $local = $this->storage->getLocalFile($file);
        clearstatcache();
        if (!file_exists($local)) {
            $cache->remove($file);
            return null;
        }
        $parent = dirname($file);
        if ($parent !== '.' && $parent !== '' && !isset($cache->all()[$parent])) {
            $this->scanFile($parent);
        }
        $data = ['size' => is_dir($local) ? 0 : (int) filesize($local), 'mtime' => (int) filemtime($local), 'etag' => uniqid(), 'type' => is_dir($local) ? FileInfo::TYPE_FOLDER : FileInfo::TYPE_FILE];
        $old = $cache->all()[$file] ?? null;
        if ($old === null || $old['size'] !== $data['size'] || $old['mtime'] !== $data['mtime']) {
            $cache->put($file, $data);
        }
        return $data;
    }

    public function scan($path, $recursive = self::SCAN_RECURSIVE, $reuse = -1, $lock = true)
    {
        $data = $this->scanFile($path);
        $local = $this->storage->getLocalFile($path);
        if (is_dir($local)) {
            foreach (scandir($local) ?: [] as $f) {
                if ($f !== '.' && $f !== '..' && !self::isPartialFile($f)) {
                    $recursive ? $this->scan("$path/$f", $recursive) : $this->scanFile("$path/$f");
                }
            }
        }
        return $data;
    }

    public static function isPartialFile($file)
    {
        return str_ends_with((string) $file, '.part');
    }

    public function backgroundScan()
    {
    }
}

final class Propagator implements IPropagator
{
    public function __construct(private HomeStorage $storage, private string $log)
    {
    }

    public function propagateChange($internalPath, $time, $sizeDifference = 0)
    {
        file_put_contents($this->log, json_encode(['call' => 'propagateChange', 'storage' => $this->storage->getId(), 'path' => $internalPath]) . "\n", FILE_APPEND | LOCK_EX);
    }
}

/** A file or folder node: a path in the virtual filesystem (/alice/files/x) on a home storage. */
class FakeNode implements Node
{
    public function __construct(protected HomeStorage $storage, protected string $internalPath, protected ?string $type = null)
    {
    }

    public function getPath()
    {
        return '/' . $this->storage->user . '/' . $this->internalPath;
    }

    public function getInternalPath()
    {
        return $this->internalPath;
    }

    public function getStorage()
    {
        return $this->storage;
    }

    public function getName()
    {
        return basename($this->internalPath);
    }

    public function getId()
    {
        return null;
    }

    public function getType()
    {
        return $this->type ?? (is_dir($this->storage->getLocalFile($this->internalPath)) ? FileInfo::TYPE_FOLDER : FileInfo::TYPE_FILE);
    }

    public function getSize($includeMounts = true)
    {
        return (int) @filesize($this->storage->getLocalFile($this->internalPath));
    }

    public function getParent()
    {
        return new FakeFolder($this->storage, dirname($this->internalPath));
    }
}

final class FakeFile extends FakeNode implements \OCP\Files\File
{
    public function getContent()
    {
        return (string) file_get_contents($this->storage->getLocalFile($this->internalPath));
    }
}

final class FakeFolder extends FakeNode implements Folder
{
    public function get($path)
    {
        $internal = trim($this->internalPath . '/' . trim($path, '/'), '/');
        $local = $this->storage->getLocalFile($internal);
        if (!file_exists($local)) {
            throw new NotFoundException("$path not found");
        }
        return is_dir($local) ? new FakeFolder($this->storage, $internal) : new FakeFile($this->storage, $internal);
    }

    public function nodeExists($path)
    {
        return file_exists($this->storage->getLocalFile(trim($this->internalPath . '/' . trim($path, '/'), '/')));
    }

    public function newFolder($path)
    {
        $internal = trim($this->internalPath . '/' . trim($path, '/'), '/');
        @mkdir($this->storage->getLocalFile($internal), 0777, true);
        return new FakeFolder($this->storage, $internal);
    }
}

final class RootFolder extends FakeNode implements IRootFolder
{
    public function __construct(private string $dataDir, private IEventDispatcher $events, private string $root)
    {
    }

    public function storage(string $user): HomeStorage
    {
        return new HomeStorage($user, "{$this->dataDir}/$user", $this->events, $this->root);
    }

    public function getUserFolder($userId)
    {
        if (!is_dir("{$this->dataDir}/$userId/files")) {
            throw new NotFoundException("no user $userId");
        }
        return new FakeFolder($this->storage($userId), 'files');
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
