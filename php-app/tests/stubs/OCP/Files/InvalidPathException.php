<?php
/** Stand-in for OCP\Files\InvalidPathException (nextcloud/server lib/public/Files/InvalidPathException.php). */

declare(strict_types=1);

namespace OCP\Files;

class InvalidPathException extends \Exception
{
}
