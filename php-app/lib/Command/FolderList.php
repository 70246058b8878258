<?php
/**
 * occ harp:folder:list — the mappings, whom each folder is shared with, and
 * each folder's file and conflict counts when the daemon runs.
 */

declare(strict_types=1);

namespace OCA\Harp\Command;

use OC\Core\Command\Base;
use OCA\Harp\Bridge\Bridge;
use OCA\Harp\FolderMap;
use OCA\Harp\Mapping;
use Symfony\Component\Console\Input\InputInterface;
use Symfony\Component\Console\Output\OutputInterface;

class FolderList extends Base
{
    public function __construct(private FolderMap $folders, private Bridge $bridge)
    {
        parent::__construct();
    }

    protected function configure(): void
    {
        parent::configure();
        $this->setName('harp:folder:list')->setDescription('Show the Harp folders mapped into Nextcloud');
    }

    protected function execute(InputInterface $input, OutputInterface $output): int
    {
        $synced = [];
        try {
            foreach ($this->bridge->status()['folders'] ?? [] as $f) {
                $synced[$f['id']] = $f;
            }
        } catch (\Throwable) {
            // no daemon: the mappings alone
        }
        $json = $input->getOption('output') !== self::OUTPUT_FORMAT_PLAIN;
        $rows = array_map(static function ($m) use ($synced, $json) {
            // The daemon's node says whom it shares the folder with (for
            // "every trusted device", which ones now); without it, the mapping.
            $f = $synced[$m->folderId] ?? null;
            $all = $f !== null ? (bool) $f['all_devices'] : $m->devices === null;
            $devices = $f !== null ? $f['devices'] : ($m->devices ?? []);
            $row = [
                'folder' => $m->folderId,
                'user' => $m->user,
                'path' => $m->path,
                'local path' => $m->localPath,
                'shared with' => Mapping::describeSharing($all, $devices),
                'files' => $f['files'] ?? '',
                'conflicts' => $f['conflicts'] ?? '',
                'state' => $m->paused !== null ? "paused: {$m->paused}" : ($f !== null ? 'syncing' : 'not running'),
            ];
            if ($json) {
                $row['devices'] = $devices;
                $row['all_devices'] = $all;
            }
            return $row;
        }, $this->folders->all());
        if ($rows === [] && $input->getOption('output') === self::OUTPUT_FORMAT_PLAIN) {
            $output->writeln('No folders mapped. Map one: occ harp:folder:add <folderId> <user> <path>');
            return 0;
        }
        $this->writeTableInOutputFormat($input, $output, $rows);
        return 0;
    }
}
