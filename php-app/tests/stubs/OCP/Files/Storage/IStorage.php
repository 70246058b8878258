<?php
/**
 * Test stand-in for OCP\Files\Storage\IStorage.
 * Mirrors nextcloud/server lib/public/Files/Storage/IStorage.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 * Checked: signatures (class kind, parent, interfaces; for each method
 * and constant the stand-in declares: parameters, defaults, return type,
 * value) compared by tests/check-stubs.php with OCP/Files/Storage/IStorage.php in nextcloud-deps/ocp, which is
 * nextcloud/server lib/public per branch: stable28 8f6935d8,
 * stable29 b4e88c70, stable30 48ecbcae, stable31 5ac47a53; 31 types
 * two parameters, see below.
 */

declare(strict_types=1);

namespace OCP\Files\Storage;

use OCP\Files\Cache\ICache;
use OCP\Files\Cache\IPropagator;
use OCP\Files\Cache\IScanner;

/**
 * Only the methods harpbridge calls, untyped as in Nextcloud 28-30. Nextcloud
 * 31 adds parameter types to two of them: getLocalFile(string $path) and
 * getCache(string $path = '', ?IStorage $storage = null); harpbridge calls
 * both with a string, or with no argument, so it works with either.
 */
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
