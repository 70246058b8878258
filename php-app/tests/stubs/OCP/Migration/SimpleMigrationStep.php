<?php
/**
 * Test stand-in for OCP\Migration\SimpleMigrationStep.
 * Mirrors nextcloud/server lib/public/Migration/SimpleMigrationStep.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 */

declare(strict_types=1);

namespace OCP\Migration;

use Closure;

abstract class SimpleMigrationStep implements IMigrationStep
{
    public function name(): string
    {
        return '';
    }

    public function description(): string
    {
        return '';
    }

    public function preSchemaChange(IOutput $output, Closure $schemaClosure, array $options)
    {
    }

    public function changeSchema(IOutput $output, Closure $schemaClosure, array $options)
    {
        return null;
    }

    public function postSchemaChange(IOutput $output, Closure $schemaClosure, array $options)
    {
    }
}
