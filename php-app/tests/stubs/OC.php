<?php
/**
 * Test stand-in for the global class OC (nextcloud/server lib/base.php):
 * only its static $server, the server container that OCP\Server::get()
 * asks, and $configDir, where config.php is. In Nextcloud it is an OC\Server; the stand-in server
 * (tests/fakes/Server.php) puts its container there.
 */

declare(strict_types=1);

class OC
{
    /** @var \Psr\Container\ContainerInterface */
    public static $server;

    /** The directory of config.php, with a trailing slash (OC::$configDir). */
    public static $configDir;
}
