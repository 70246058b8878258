<?php
/**
 * Test stand-in for OCP\Files\Cache\IScanner.
 * Mirrors nextcloud/server lib/public/Files/Cache/IScanner.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 * Checked: signatures (class kind, parent, interfaces; for each method
 * and constant the stand-in declares: parameters, defaults, return type,
 * value) compared by tests/check-stubs.php with OCP/Files/Cache/IScanner.php in nextcloud-deps/ocp, which is
 * nextcloud/server lib/public per branch: stable28 8f6935d8,
 * stable29 b4e88c70, stable30 48ecbcae, stable31 5ac47a53.
 */

declare(strict_types=1);

namespace OCP\Files\Cache;

interface IScanner
{
    public const SCAN_RECURSIVE_INCOMPLETE = 2;
    public const SCAN_RECURSIVE = true;
    public const SCAN_SHALLOW = false;
    public const REUSE_NONE = 0;
    public const REUSE_ETAG = 1;
    public const REUSE_SIZE = 2;

    /** @return array|null */
    public function scanFile($file, $reuseExisting = 0, $parentId = -1, $cacheData = null, $lock = true);

    /** @return array|null */
    public function scan($path, $recursive = self::SCAN_RECURSIVE, $reuse = -1, $lock = true);

    /** @return bool */
    public static function isPartialFile($file);

    public function backgroundScan();
}
