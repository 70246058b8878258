<?php
/**
 * occ harp:peers — every device the node knows: trusted or not, connected,
 * LAN or WAN, round-trip time, bytes exchanged.
 */

declare(strict_types=1);

namespace OCA\Harp\Command;

use OC\Core\Command\Base;
use OCA\Harp\Bridge\Bridge;
use Symfony\Component\Console\Input\InputInterface;
use Symfony\Component\Console\Output\OutputInterface;

class Peers extends Base
{
    public function __construct(private Bridge $bridge)
    {
        parent::__construct();
    }

    protected function configure(): void
    {
        parent::configure();
        $this->setName('harp:peers')->setDescription('List the devices this node knows: trusted, connected, LAN or WAN, RTT');
    }

    protected function execute(InputInterface $input, OutputInterface $output): int
    {
        try {
            $peers = $this->bridge->peers();
        } catch (\Throwable $e) {
            $output->writeln('<error>' . $e->getMessage() . '</error>');
            return 1;
        }
        if ($input->getOption('output') !== self::OUTPUT_FORMAT_PLAIN) {
            $this->writeTableInOutputFormat($input, $output, $peers);
            return 0;
        }
        if ($peers === []) {
            $output->writeln('No peers yet. Pair with another server: occ harp:trust <its device ID> [IP:port], and the same there with this ID (occ harp:status).');
            return 0;
        }
        $this->writeTableInOutputFormat($input, $output, array_map(static fn (array $p) => [
            'device' => $p['device_id'],
            'name' => $p['name'] ?? '',
            'trusted' => $p['trusted'] ? 'yes' : 'no',
            'connected' => $p['connected'] ? 'yes' : 'no',
            'network' => $p['connected'] ? ($p['lan'] ? 'LAN' : 'WAN') : '',
            'rtt' => $p['rtt_ms'] !== null && $p['connected'] ? round((float) $p['rtt_ms'], 1) . ' ms' : '',
            'in/out' => self::bytes((int) $p['bytes_in']) . ' / ' . self::bytes((int) $p['bytes_out']),
        ], $peers));
        return 0;
    }

    public static function bytes(int $n): string
    {
        $units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
        $i = 0;
        $v = (float) $n;
        while ($v >= 1024 && $i < count($units) - 1) {
            $v /= 1024;
            $i++;
        }
        return ($i === 0 ? (string) $n : number_format($v, 1)) . ' ' . $units[$i];
    }
}
