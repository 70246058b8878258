<?php
/**
 * occ harp:folder:add FOLDER USER PATH [--device ID]... — maps the Harp
 * folder FOLDER (the same id on every device) to PATH in USER's files,
 * shared with every trusted device or only with the devices given. The
 * running daemon starts syncing it at once and records what is already
 * there; a daemon that starts later applies the mapping then.
 */

declare(strict_types=1);

namespace OCA\Harp\Command;

use Harp\Exception\NotRunningException;
use OC\Core\Command\Base;
use OCA\Harp\Bridge\Bridge;
use OCA\Harp\FolderMap;
use Symfony\Component\Console\Input\InputArgument;
use Symfony\Component\Console\Input\InputInterface;
use Symfony\Component\Console\Input\InputOption;
use Symfony\Component\Console\Output\OutputInterface;

class FolderAdd extends Base
{
    public function __construct(private FolderMap $folders, private Bridge $bridge)
    {
        parent::__construct();
    }

    protected function configure(): void
    {
        parent::configure();
        $this->setName('harp:folder:add')
            ->setDescription('Map a Harp folder to a folder in a user\'s files')
            ->addArgument('folderId', InputArgument::REQUIRED, 'the Harp folder id (1-64 of A-Z a-z 0-9 . _ -), the same on every device')
            ->addArgument('user', InputArgument::REQUIRED, 'the Nextcloud user whose files hold it')
            ->addArgument('path', InputArgument::REQUIRED, 'the folder in that user\'s files, e.g. /Offices (created if missing)')
            ->addOption('device', null, InputOption::VALUE_REQUIRED | InputOption::VALUE_IS_ARRAY, 'share it only with this device (its ID, as `occ harp:status` prints it there); repeat for each device. Without it: every trusted device, now and later');
    }

    protected function execute(InputInterface $input, OutputInterface $output): int
    {
        try {
            $devices = (array) $input->getOption('device');
            $m = $this->folders->add((string) $input->getArgument('folderId'), (string) $input->getArgument('user'), (string) $input->getArgument('path'), $devices === [] ? null : $devices);
        } catch (\InvalidArgumentException $e) {
            $output->writeln('<error>' . $e->getMessage() . '</error>');
            return 1;
        }
        $output->writeln("Mapped Harp folder '{$m->folderId}' to {$m->user}:{$m->path} ({$m->localPath}).");
        $output->writeln('Shared with: ' . $m->sharedWith() . '.');
        try {
            $this->bridge->addFolder($m->folderId, $m->localPath, $m->devices);
            $r = $this->bridge->scan($m->folderId);
            $output->writeln("The daemon syncs it now: {$r['files']} files, {$r['entries']} new entries; within seconds it also brings what peers send into Nextcloud's file list.");
        } catch (NotRunningException) {
            $output->writeln('harp:daemon is not running; it syncs this folder when it starts.');
        } catch (\Throwable $e) {
            $output->writeln('<error>' . $e->getMessage() . '</error>');
            return 1;
        }
        return 0;
    }
}
