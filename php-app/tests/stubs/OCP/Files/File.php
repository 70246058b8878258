<?php
/**
 * Test stand-in for OCP\Files\File.
 * Mirrors nextcloud/server lib/public/Files/File.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 */

declare(strict_types=1);

namespace OCP\Files;

interface File extends Node
{
    /** @return string */
    public function getContent();
}
