<?php
/**
 * occ harp:folder:remove FOLDER — unmaps the Harp folder FOLDER. Its files
 * stay where they are in Nextcloud; the running daemon stops syncing it
 * within seconds (the folder is then shared with no device), and stops
 * bringing its changes into Nextcloud's file cache.
 */

declare(strict_types=1);

namespace OCA\Harp\Command;

use OC\Core\Command\Base;
use OCA\Harp\FolderMap;
use Symfony\Component\Console\Input\InputArgument;
use Symfony\Component\Console\Input\InputInterface;
use Symfony\Component\Console\Output\OutputInterface;

class FolderRemove extends Base
{
    public function __construct(private FolderMap $folders)
    {
        parent::__construct();
    }

    protected function configure(): void
    {
        parent::configure();
        $this->setName('harp:folder:remove')
            ->setDescription('Unmap a Harp folder (its files stay in Nextcloud)')
            ->addArgument('folderId', InputArgument::REQUIRED, 'the Harp folder id, as harp:folder:list shows it');
    }

    protected function execute(InputInterface $input, OutputInterface $output): int
    {
        $id = (string) $input->getArgument('folderId');
        $m = $this->folders->get($id);
        if ($m === null || !$this->folders->remove($id)) {
            $output->writeln("<error>No Harp folder '$id' is mapped (see occ harp:folder:list).</error>");
            return 1;
        }
        $output->writeln("Unmapped Harp folder '$id' ({$m->user}:{$m->path}); its files stay in Nextcloud. A running harp:daemon stops syncing it within seconds.");
        return 0;
    }
}
