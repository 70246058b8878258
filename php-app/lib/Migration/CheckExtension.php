<?php
/**
 * The install repair step (`occ app:enable harpbridge`): warns, with the
 * message that says how to install a current one, when harp.so is older
 * than ExtensionCheck::MIN_VERSION.
 *
 * When harp.so is not loaded at all, Nextcloud refuses before this step:
 * OC_App::checkAppDependencies runs DependencyAnalyzer on <lib>harp</lib>
 * and throws 'App "Harp" cannot be installed because the following
 * dependencies are not fulfilled: The library harp is not available.'
 * A repair step cannot refuse (OC\Repair catches what it throws), so an old
 * harp.so gets this warning, and harp:setup and the admin overview's setup
 * check report it until it is replaced.
 */

declare(strict_types=1);

namespace OCA\Harp\Migration;

use OCA\Harp\ExtensionCheck;
use OCP\Migration\IOutput;
use OCP\Migration\IRepairStep;

class CheckExtension implements IRepairStep
{
    public function getName()
    {
        return 'Check the harp PHP extension';
    }

    public function run(IOutput $output)
    {
        if (!ExtensionCheck::loaded() || !ExtensionCheck::versionOk()) {
            $output->warning(ExtensionCheck::installHint());
            return;
        }
        $output->info('harp ' . ExtensionCheck::version() . ' is loaded. Next: occ harp:setup');
    }
}
