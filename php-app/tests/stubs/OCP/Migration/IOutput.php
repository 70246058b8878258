<?php
/**
 * Test stand-in for OCP\Migration\IOutput.
 * Mirrors nextcloud/server lib/public/Migration/IOutput.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 */

declare(strict_types=1);

namespace OCP\Migration;

interface IOutput
{
    public function info($message);

    public function warning($message);
}
