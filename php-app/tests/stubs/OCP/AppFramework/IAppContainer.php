<?php
/**
 * Test stand-in for OCP\AppFramework\IAppContainer.
 * Mirrors nextcloud/server lib/public/AppFramework/IAppContainer.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 */

declare(strict_types=1);

namespace OCP\AppFramework;

use Psr\Container\ContainerInterface;

interface IAppContainer extends ContainerInterface
{
}
