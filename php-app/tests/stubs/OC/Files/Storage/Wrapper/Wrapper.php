<?php
/**
 * Stand-in for OC\Files\Storage\Wrapper\Wrapper (nextcloud/server
 * lib/private/Files/Storage/Wrapper/Wrapper.php at
 * 4b9879db3d95268d9ef6df3e16eb9e0d4d7c83c0): a storage that passes
 * every call to the storage it wraps. As in the real class, the cache,
 * scanner, updater and propagator are built by the wrapped storage for the
 * outermost storage ($storage ?? $this), and instanceOfStorage() looks
 * through the wrapper.
 */

declare(strict_types=1);

namespace OC\Files\Storage\Wrapper;

use OCP\Files\Storage\IStorage;
use OCP\Lock\ILockingProvider;

class Wrapper implements IStorage
{
    /** @var IStorage */
    protected $storage;

    public function __construct($arguments)
    {
        $this->storage = $arguments['storage'];
    }

    public function getWrapperStorage()
    {
        return $this->storage;
    }

    public function getId()
    {
        return $this->getWrapperStorage()->getId();
    }

    public function getLocalFile($path)
    {
        return $this->getWrapperStorage()->getLocalFile($path);
    }

    public function isLocal()
    {
        return $this->getWrapperStorage()->isLocal();
    }

    public function getCache($path = '', $storage = null)
    {
        return $this->getWrapperStorage()->getCache($path, $storage ?? $this);
    }

    public function getScanner($path = '', $storage = null)
    {
        return $this->getWrapperStorage()->getScanner($path, $storage ?? $this);
    }

    public function getPropagator($storage = null)
    {
        return $this->getWrapperStorage()->getPropagator($storage ?? $this);
    }

    public function getUpdater($storage = null)
    {
        return $this->getWrapperStorage()->getUpdater($storage ?? $this);
    }

    public function instanceOfStorage($class)
    {
        return is_a($this, ltrim($class, '\\')) || $this->getWrapperStorage()->instanceOfStorage($class);
    }

    public function verifyPath($path, $fileName)
    {
        $this->getWrapperStorage()->verifyPath($path, $fileName);
    }

    public function file_exists($path)
    {
        return $this->getWrapperStorage()->file_exists($path);
    }

    public function is_dir($path)
    {
        return $this->getWrapperStorage()->is_dir($path);
    }

    public function filesize($path)
    {
        return $this->getWrapperStorage()->filesize($path);
    }

    public function filemtime($path)
    {
        return $this->getWrapperStorage()->filemtime($path);
    }

    public function acquireLock($path, $type, ILockingProvider $provider)
    {
        $this->getWrapperStorage()->acquireLock($path, $type, $provider);
    }

    public function releaseLock($path, $type, ILockingProvider $provider)
    {
        $this->getWrapperStorage()->releaseLock($path, $type, $provider);
    }
}
