<?php
/**
 * Runs when `occ app:enable harpbridge` installs the app: refuses, with the
 * message that says how to install the extension, when harp.so is missing.
 * (Nextcloud's own check of <lib>harp</lib> in info.xml refuses first,
 * naming the library only; this step also covers `app:enable --force`.)
 */

declare(strict_types=1);

namespace OCA\Harp\Migration;

use Closure;
use OCA\Harp\ExtensionCheck;
use OCP\Migration\IOutput;
use OCP\Migration\SimpleMigrationStep;

class Version000100Date20250601000000 extends SimpleMigrationStep
{
    public function preSchemaChange(IOutput $output, Closure $schemaClosure, array $options)
    {
        if (!ExtensionCheck::loaded() || !ExtensionCheck::versionOk()) {
            throw new \RuntimeException(ExtensionCheck::installHint());
        }
        $output->info('harp ' . ExtensionCheck::version() . ' is loaded. Next: occ harp:setup');
    }
}
