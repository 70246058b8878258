<?php
/**
 * Stand-in for OCP\Files\Storage\IStorage (nextcloud/server
 * lib/public/Files/Storage/IStorage.php): the methods harpbridge and the
 * stand-in filesystem use, with Nextcloud 28's untyped signatures.
 */

declare(strict_types=1);

namespace OCP\Files\Storage;

interface IStorage
{
    public function getId();

    public function getLocalFile($path);

    public function isLocal();

    public function getCache($path = '', $storage = null);

    public function getScanner($path = '', $storage = null);

    public function getPropagator($storage = null);

    public function getUpdater($storage = null);

    public function instanceOfStorage($class);

    public function verifyPath($path, $fileName);

    public function file_exists($path);

    public function is_dir($path);

    public function filesize($path);

    public function filemtime($path);

    public function acquireLock($path, $type, \OCP\Lock\ILockingProvider $provider);

    public function releaseLock($path, $type, \OCP\Lock\ILockingProvider $provider);
}
