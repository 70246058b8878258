<?php
/**
 * Test stand-in for OCP\Files\NotFoundException.
 * Mirrors nextcloud/server lib/public/Files/NotFoundException.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 */

declare(strict_types=1);

namespace OCP\Files;

class NotFoundException extends \Exception
{
}
