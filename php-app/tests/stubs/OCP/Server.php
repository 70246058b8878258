<?php
/**
 * Test stand-in for OCP\Server.
 * Mirrors nextcloud/server lib/public/Server.php (Nextcloud 28-31): a final
 * class whose one method, get(string $serviceName), asks the server
 * container \OC::$server (see stubs/OC.php; the stand-in server sets it).
 * Checked: signatures (class kind, parent, interfaces; for each method
 * and constant the stand-in declares: parameters, defaults, return type,
 * value) compared by tests/check-stubs.php with OCP/Server.php in nextcloud-deps/ocp, which is
 * nextcloud/server lib/public per branch: stable28 8f6935d8,
 * stable29 b4e88c70, stable30 48ecbcae, stable31 5ac47a53.
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
