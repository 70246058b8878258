<?php
/**
 * Test stand-in for OCP\Server.
 * Mirrors nextcloud/server lib/public/Server.php (Nextcloud 28-31): a final
 * class whose one method, get(string $serviceName), asks the server
 * container \OC::$server (see stubs/OC.php; the stand-in server sets it).
 */

declare(strict_types=1);

namespace OCP;

final class Server
{
    /** @template T @param class-string<T>|string $serviceName @return T|mixed */
    public static function get(string $serviceName)
    {
        return \OC::$server->get($serviceName);
    }
}
