<?php
/** Stand-in for OCP\Exceptions\AbortedEventException (nextcloud/server lib/public/Exceptions/AbortedEventException.php at 467c84ec53511b008c7d6ac0888645a381787288; since 29). */

declare(strict_types=1);

namespace OCP\Exceptions;

class AbortedEventException extends \Exception
{
}
