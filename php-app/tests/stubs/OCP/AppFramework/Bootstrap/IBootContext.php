<?php
/**
 * Test stand-in for OCP\AppFramework\Bootstrap\IBootContext.
 * Mirrors nextcloud/server lib/public/AppFramework/Bootstrap/IBootContext.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 */

declare(strict_types=1);

namespace OCP\AppFramework\Bootstrap;

use OCP\AppFramework\IAppContainer;

interface IBootContext
{
    public function getAppContainer(): IAppContainer;

    public function injectFn(callable $fn);
}
