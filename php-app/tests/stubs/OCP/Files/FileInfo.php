<?php
/**
 * Test stand-in for OCP\Files\FileInfo.
 * Mirrors nextcloud/server lib/public/Files/FileInfo.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 * Checked: signatures (class kind, parent, interfaces; for each method
 * and constant the stand-in declares: parameters, defaults, return type,
 * value) compared by tests/check-stubs.php with OCP/Files/FileInfo.php in nextcloud-deps/ocp, which is
 * nextcloud/server lib/public per branch: stable28 8f6935d8,
 * stable29 b4e88c70, stable30 48ecbcae, stable31 5ac47a53.
 */

declare(strict_types=1);

namespace OCP\Files;

use OCP\Files\Storage\IStorage;

interface FileInfo
{
    public const TYPE_FILE = 'file';
    public const TYPE_FOLDER = 'dir';

    /** @return string the path relative to the root of the virtual filesystem, e.g. /alice/files/a.txt */
    public function getPath();

    /** @return string the path inside its storage, e.g. files/a.txt */
    public function getInternalPath();

    /** @return IStorage */
    public function getStorage();

    /** @return string */
    public function getName();

    /** @return int|null */
    public function getId();

    /** @return string TYPE_FILE or TYPE_FOLDER */
    public function getType();

    /** @return int|float */
    public function getSize($includeMounts = true);
}
