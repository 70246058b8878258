<?php
/**
 * The uninstall repair step (`occ app:remove harpbridge`). Nextcloud drops
 * the app's config (the mappings) itself; the daemon stops on its own once
 * the app is disabled. What is left is the state directory, which holds
 * this server's device key, its chain and its trust list: it is removed
 * only when the admin asked for it beforehand,
 *
 *   occ config:app:set harpbridge remove_state_on_uninstall --value=yes
 *
 * and otherwise kept, with a message naming it. The synced files stay
 * where they are, in the users' folders.
 */

declare(strict_types=1);

namespace OCA\Harp\Migration;

use OCA\Harp\Config;
use OCP\IConfig;
use OCP\Migration\IOutput;
use OCP\Migration\IRepairStep;

class Uninstall implements IRepairStep
{
    public function __construct(private Config $config, private IConfig $appValues)
    {
    }

    public function getName()
    {
        return 'Remove what Harp created';
    }

    public function run(IOutput $output)
    {
        $dir = $this->config->stateDir();
        $remove = (string) $this->appValues->getAppValue(Config::APP, 'remove_state_on_uninstall', 'no') === 'yes';
        if (!is_dir($dir)) {
            return;
        }
        if (!$remove) {
            $output->info("Kept Harp's state directory $dir (this server's device key, chain and trusted devices). Remove it yourself when no longer needed, or set remove_state_on_uninstall=yes before removing the app.");
            return;
        }
        self::removeTree($dir);
        $output->info("Removed Harp's state directory $dir.");
    }

    /** Removes $dir and what is in it, without following symlinks out of it. */
    private static function removeTree(string $dir): void
    {
        $it = new \RecursiveIteratorIterator(new \RecursiveDirectoryIterator($dir, \FilesystemIterator::SKIP_DOTS), \RecursiveIteratorIterator::CHILD_FIRST);
        foreach ($it as $f) {
            $f->isDir() && !$f->isLink() ? rmdir($f->getPathname()) : unlink($f->getPathname());
        }
        rmdir($dir);
    }
}
