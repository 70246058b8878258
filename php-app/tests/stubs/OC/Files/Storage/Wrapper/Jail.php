<?php
/**
 * Stand-in for OC\Files\Storage\Wrapper\Jail (nextcloud/server
 * lib/private/Files/Storage/Wrapper/Jail.php at
 * 001260223e544b6b583cbd9a9a87f11273c1642d): a subfolder ('root') of the
 * wrapped storage seen as a storage of its own. Group folders are jails
 * over the root storage at __groupfolders/<id>; a received share
 * (SharedStorage) is one over its owner's storage. As in the real class:
 * every path is unjailed before it reaches the wrapped storage, the cache is
 * a CacheJail over the wrapped storage's cache (so cache events carry the
 * wrapped storage and the unjailed path), and the propagator propagates in
 * the wrapped storage, up to its root.
 */

declare(strict_types=1);

namespace OC\Files\Storage\Wrapper;

use OCA\Harp\Tests\Fake\CacheJail;
use OCA\Harp\Tests\Fake\JailPropagator;
use OCA\Harp\Tests\Fake\Scanner;
use OCA\Harp\Tests\Fake\Updater;
use OCP\Lock\ILockingProvider;

class Jail extends Wrapper
{
    /** @var string */
    protected $rootPath;

    public function __construct($arguments)
    {
        parent::__construct($arguments);
        $this->rootPath = $arguments['root'];
    }

    public function getUnjailedPath($path)
    {
        return trim($this->rootPath . '/' . trim((string) $path, '/'), '/');
    }

    public function getUnjailedStorage()
    {
        return $this->storage;
    }

    public function getJailedPath($path)
    {
        $root = rtrim($this->rootPath, '/') . '/';
        if ($path !== $this->rootPath && !str_starts_with($path, $root)) {
            return null;
        }
        return trim(substr($path, strlen($this->rootPath)), '/');
    }

    public function getLocalFile($path)
    {
        return $this->getWrapperStorage()->getLocalFile($this->getUnjailedPath($path));
    }

    public function getCache($path = '', $storage = null)
    {
        return new CacheJail($this->getWrapperStorage()->getCache($this->getUnjailedPath($path)), $this->rootPath);
    }

    public function getScanner($path = '', $storage = null)
    {
        return new Scanner($storage ?? $this);
    }

    /** Propagates through this jail into the wrapped storage, whichever wrapper asked. */
    public function getPropagator($storage = null)
    {
        return new JailPropagator($this);
    }

    public function getUpdater($storage = null)
    {
        return new Updater($storage ?? $this);
    }

    public function verifyPath($path, $fileName)
    {
        $this->getWrapperStorage()->verifyPath($this->getUnjailedPath($path), $fileName);
    }

    public function file_exists($path)
    {
        return $this->getWrapperStorage()->file_exists($this->getUnjailedPath($path));
    }

    public function is_dir($path)
    {
        return $this->getWrapperStorage()->is_dir($this->getUnjailedPath($path));
    }

    public function filesize($path)
    {
        return $this->getWrapperStorage()->filesize($this->getUnjailedPath($path));
    }

    public function filemtime($path)
    {
        return $this->getWrapperStorage()->filemtime($this->getUnjailedPath($path));
    }

    public function acquireLock($path, $type, ILockingProvider $provider)
    {
        $this->getWrapperStorage()->acquireLock($this->getUnjailedPath($path), $type, $provider);
    }

    public function releaseLock($path, $type, ILockingProvider $provider)
    {
        $this->getWrapperStorage()->releaseLock($this->getUnjailedPath($path), $type, $provider);
    }

    /** [the wrapped storage, the unjailed path] */
    public function resolvePath($path)
    {
        return [$this->getWrapperStorage(), $this->getUnjailedPath($path)];
    }
}
