<?php
/**
 * Test stand-in for OCP\Files\IRootFolder.
 * Mirrors nextcloud/server lib/public/Files/IRootFolder.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 */

declare(strict_types=1);

namespace OCP\Files;

interface IRootFolder extends Folder
{
    /** @return Folder @throws NoUserException @throws NotPermittedException */
    public function getUserFolder($userId);
}
