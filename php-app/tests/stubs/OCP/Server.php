<?php
/**
 * Test stand-in for OCP\Server.
 * Mirrors nextcloud/server lib/public/Server.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 */

declare(strict_types=1);

namespace OCP;

use Psr\Container\ContainerInterface;

/** In Nextcloud this asks the server container; here the test harness sets it. */
final class Server
{
    private static ?ContainerInterface $container = null;

    /** @template T @param class-string<T>|string $serviceName @return T|mixed */
    public static function get(string $serviceName)
    {
        if (self::$container === null) {
            throw new \RuntimeException('no server container: the test harness sets one with Server::setContainerForTests()');
        }
        return self::$container->get($serviceName);
    }

    /** Not in Nextcloud: how the stand-in server installs its container. */
    public static function setContainerForTests(ContainerInterface $c): void
    {
        self::$container = $c;
    }
}
