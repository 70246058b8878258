<?php
/**
 * Test stand-in for OCP\Files\Storage\IStorage.
 * Mirrors nextcloud/server lib/public/Files/Storage/IStorage.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 */

declare(strict_types=1);

namespace OCP\Files\Storage;

use OCP\Files\Cache\ICache;
use OCP\Files\Cache\IPropagator;
use OCP\Files\Cache\IScanner;

/** Only the methods harpbridge calls; their signatures are untyped as in 28-30 (31 adds types, which an implementation may narrow to). */
interface IStorage
{
    /** @return string */
    public function getId();

    /** @return string|false */
    public function getLocalFile($path);

    /** @return bool */
    public function isLocal();

    /** @return ICache */
    public function getCache($path = '', $storage = null);

    /** @return IScanner */
    public function getScanner();

    /** @return IPropagator */
    public function getPropagator();
}
