<?php
/**
 * Test stand-in for OCP\Migration\IMigrationStep.
 * Mirrors nextcloud/server lib/public/Migration/IMigrationStep.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 */

declare(strict_types=1);

namespace OCP\Migration;

use Closure;

interface IMigrationStep
{
    public function name(): string;

    public function description(): string;

    public function preSchemaChange(IOutput $output, Closure $schemaClosure, array $options);

    public function changeSchema(IOutput $output, Closure $schemaClosure, array $options);

    public function postSchemaChange(IOutput $output, Closure $schemaClosure, array $options);
}
