<?php
/** Stand-in for OCP\Encryption\IManager (nextcloud/server lib/public/Encryption/IManager.php): the part harpbridge uses. */

declare(strict_types=1);

namespace OCP\Encryption;

interface IManager
{
    public function isEnabled();
}
