<?php
/**
 * occ harp:status — the daemon's state: device ID, listen address, folders,
 * peers, transfers, notifies waiting in the outbox. Exit code 1 when no
 * daemon runs.
 */

declare(strict_types=1);

namespace OCA\Harp\Command;

use OC\Core\Command\Base;
use OCA\Harp\Bridge\Bridge;
use Symfony\Component\Console\Input\InputInterface;
use Symfony\Component\Console\Output\OutputInterface;

class Status extends Base
{
    public function __construct(private Bridge $bridge)
    {
        parent::__construct();
    }

    protected function configure(): void
    {
        parent::configure();
        $this->setName('harp:status')->setDescription('Show the Harp node\'s state (asks the running harp:daemon)');
    }

    protected function execute(InputInterface $input, OutputInterface $output): int
    {
        $s = $this->bridge->status();
        if ($input->getOption('output') !== self::OUTPUT_FORMAT_PLAIN) {
            $this->writeArrayInOutputFormat($input, $output, $s);
            return empty($s['running']) ? 1 : 0;
        }
        if (empty($s['running'])) {
            $output->writeln('<error>harp:daemon is not running.</error> ' . ($s['error'] ?? 'Start it: systemctl start harp-nextcloud (occ harp:setup prints the unit).'));
            $output->writeln('  notifies waiting in the outbox: ' . ($s['outbox'] ?? 0));
            return 1;
        }
        $this->writeArrayInOutputFormat($input, $output, [
            'device' => $s['device_id'],
            'name' => $s['name'],
            'listen' => $s['listen'],
            'state directory' => $s['state_dir'],
            'daemon pid' => $s['pid'],
            'folders' => array_map(fn ($f) => "{$f['id']}: {$f['files']} files, {$f['conflicts']} conflicts ({$f['path']})", $s['folders']),
            'peers' => count($s['peers']) . ' known, ' . count(array_filter($s['peers'], fn ($p) => $p['connected'])) . ' connected',
            'transfers' => count($s['transfers']),
            'outbox' => $s['outbox'],
            'entries' => $s['entries'],
            'last error' => $s['last_error'] ?? 'none',
        ]);
        return 0;
    }
}
