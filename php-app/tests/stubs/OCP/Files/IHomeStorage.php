<?php
/** Stand-in for OCP\Files\IHomeStorage (nextcloud/server lib/public/Files/IHomeStorage.php): a marker interface. */

declare(strict_types=1);

namespace OCP\Files;

interface IHomeStorage
{
}
