<?php
/**
 * occ harp:verify [FOLDER] — checks every entry of the mapped folders: each
 * link, signature and author. Exit code 1 and the damaged entries listed
 * when something fails.
 */

declare(strict_types=1);

namespace OCA\Harp\Command;

use OC\Core\Command\Base;
use OCA\Harp\Bridge\Bridge;
use OCA\Harp\FolderMap;
use Symfony\Component\Console\Input\InputArgument;
use Symfony\Component\Console\Input\InputInterface;
use Symfony\Component\Console\Output\OutputInterface;

class Verify extends Base
{
    public function __construct(private FolderMap $folders, private Bridge $bridge)
    {
        parent::__construct();
    }

    protected function configure(): void
    {
        parent::configure();
        $this->setName('harp:verify')
            ->setDescription('Check every link and signature of the mapped folders\' entries')
            ->addArgument('folderId', InputArgument::OPTIONAL, 'only this folder');
    }

    protected function execute(InputInterface $input, OutputInterface $output): int
    {
        $only = $input->getArgument('folderId');
        $ids = is_string($only) ? [$only] : array_map(fn ($m) => $m->folderId, $this->folders->all());
        $result = [];
        $ok = true;
        foreach ($ids as $id) {
            try {
                $result[$id] = $this->bridge->verify($id);
            } catch (\Throwable $e) {
                $result[$id] = ['ok' => false, 'checked' => 0, 'problems' => [], 'error' => $e->getMessage()];
            }
            $ok = $ok && $result[$id]['ok'];
        }
        if ($input->getOption('output') !== self::OUTPUT_FORMAT_PLAIN) {
            $this->writeArrayInOutputFormat($input, $output, $result);
            return $ok ? 0 : 1;
        }
        foreach ($result as $id => $r) {
            if (isset($r['error'])) {
                $output->writeln("<error>$id: {$r['error']}</error>");
            } elseif ($r['ok']) {
                $output->writeln("$id: ok, {$r['checked']} entries checked");
            } else {
                $output->writeln("<error>$id: " . count($r['problems']) . " damaged of {$r['checked']} entries</error>");
                foreach ($r['problems'] as $p) {
                    $output->writeln("  {$p['reason']}: entry {$p['entry']} ({$p['path']}, by {$p['author']} #{$p['seq']}) {$p['detail']}");
                }
            }
        }
        return $ok ? 0 : 1;
    }
}
