<?php
/**
 * Test stand-in for OCP\Files\Node.
 * Mirrors nextcloud/server lib/public/Files/Node.php (with FileInfo) (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 */

declare(strict_types=1);

namespace OCP\Files;


interface Node extends FileInfo
{
    /** @return Node */
    public function getParent();
}
