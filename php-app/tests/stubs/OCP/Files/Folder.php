<?php
/**
 * Test stand-in for OCP\Files\Folder.
 * Mirrors nextcloud/server lib/public/Files/Folder.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 */

declare(strict_types=1);

namespace OCP\Files;

interface Folder extends Node
{
    /** @return Node @throws NotFoundException */
    public function get($path);

    /** @return bool */
    public function nodeExists($path);

    /** @return Folder */
    public function newFolder($path);
}
