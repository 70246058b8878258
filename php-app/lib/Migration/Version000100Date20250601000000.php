<?php
/**
 * Runs when `occ app:enable harpbridge` installs the app: refuses, with the
 * message that says how to install the extension, when harp.so is missing
 * or older than ExtensionCheck::MIN_VERSION.
 *
 * When harp.so is not loaded at all, Nextcloud refuses before this step:
 * OC_App::checkAppDependencies runs DependencyAnalyzer on <lib>harp</lib>
 * and throws 'App "Harp" cannot be installed because the following
 * dependencies are not fulfilled: The library harp is not available.'
 * (`app:enable --force` only lifts the max-version check, so it refuses
 * too). What this step adds is the version check and the install hint.
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
