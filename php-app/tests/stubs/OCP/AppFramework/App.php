<?php
/**
 * Test stand-in for OCP\AppFramework\App.
 * Mirrors nextcloud/server lib/public/AppFramework/App.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 */

declare(strict_types=1);

namespace OCP\AppFramework;

/** In Nextcloud the container is the app's DIContainer; the stand-in server supplies one. */
class App
{
    private IAppContainer $container;

    public function __construct(string $appName, array $urlParams = [])
    {
        $this->container = \OCA\Harp\Tests\Fake\Server::appContainer($appName);
    }

    public function getContainer(): IAppContainer
    {
        return $this->container;
    }
}
