<?php
/**
 * occ harp:scan [FOLDER] — asks the daemon to record new, changed and
 * deleted files of the mapped folders (all, or one), with a progress bar.
 */

declare(strict_types=1);

namespace OCA\Harp\Command;

use OC\Core\Command\Base;
use OCA\Harp\Bridge\Bridge;
use OCA\Harp\FolderMap;
use Symfony\Component\Console\Helper\ProgressBar;
use Symfony\Component\Console\Input\InputArgument;
use Symfony\Component\Console\Input\InputInterface;
use Symfony\Component\Console\Output\OutputInterface;

class Scan extends Base
{
    public function __construct(private FolderMap $folders, private Bridge $bridge)
    {
        parent::__construct();
    }

    protected function configure(): void
    {
        parent::configure();
        $this->setName('harp:scan')
            ->setDescription('Record what changed on disk in the mapped folders (asks the running daemon)')
            ->addArgument('folderId', InputArgument::OPTIONAL, 'only this folder');
    }

    protected function execute(InputInterface $input, OutputInterface $output): int
    {
        $ids = array_map(fn ($m) => $m->folderId, $this->folders->all());
        $only = $input->getArgument('folderId');
        if (is_string($only)) {
            if (!in_array($only, $ids, true)) {
                $output->writeln("<error>No folder '$only' is mapped (occ harp:folder:list).</error>");
                return 1;
            }
            $ids = [$only];
        }
        $plain = $input->getOption('output') === self::OUTPUT_FORMAT_PLAIN;
        $bar = $plain ? new ProgressBar($output, count($ids)) : null;
        $bar?->setFormat(' %current%/%max% folders [%bar%] %message%');
        $bar?->setMessage('');
        $bar?->start();
        $rows = [];
        $code = 0;
        foreach ($ids as $id) {
            $bar?->setMessage($id);
            $bar?->display();
            try {
                $r = $this->bridge->scan($id);
                $rows[] = ['folder' => $id, 'files' => $r['files'], 'new' => $r['new'], 'changed' => $r['changed'], 'deleted' => $r['deleted'], 'entries' => $r['entries'], 'ms' => $r['ms']];
            } catch (\Throwable $e) {
                $rows[] = ['folder' => $id, 'error' => $e->getMessage()];
                $code = 1;
            }
            $bar?->advance();
        }
        $bar?->setMessage('done');
        $bar?->finish();
        if ($plain) {
            $output->writeln('');
            foreach ($rows as $r) {
                $output->writeln(isset($r['error'])
                    ? "<error>{$r['folder']}: {$r['error']}</error>"
                    : "{$r['folder']}: {$r['files']} files, {$r['new']} new, {$r['changed']} changed, {$r['deleted']} deleted, {$r['entries']} entries in {$r['ms']} ms");
            }
        } else {
            $this->writeTableInOutputFormat($input, $output, $rows);
        }
        return $code;
    }
}
