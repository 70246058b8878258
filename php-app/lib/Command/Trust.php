<?php
/**
 * occ harp:trust DEVICE [ADDRESS...] — pairs with another device. Compare
 * its ID (harp:status on that server) aloud before trusting it; both sides
 * must trust each other.
 */

declare(strict_types=1);

namespace OCA\Harp\Command;

use OC\Core\Command\Base;
use OCA\Harp\Bridge\Bridge;
use Symfony\Component\Console\Input\InputArgument;
use Symfony\Component\Console\Input\InputInterface;
use Symfony\Component\Console\Output\OutputInterface;

class Trust extends Base
{
    public function __construct(private Bridge $bridge)
    {
        parent::__construct();
    }

    protected function configure(): void
    {
        parent::configure();
        $this->setName('harp:trust')
            ->setDescription('Trust another Harp device (both sides must trust each other)')
            ->addArgument('device', InputArgument::REQUIRED, 'its device ID, as `occ harp:status` prints it on that server')
            ->addArgument('address', InputArgument::IS_ARRAY | InputArgument::OPTIONAL, 'static IP:port addresses to reach it beyond the LAN');
    }

    protected function execute(InputInterface $input, OutputInterface $output): int
    {
        $device = (string) $input->getArgument('device');
        try {
            $this->bridge->trust($device, array_values((array) $input->getArgument('address')));
            $me = $this->bridge->status()['device_id'] ?? '(see occ harp:status)';
        } catch (\Throwable $e) {
            $output->writeln('<error>' . $e->getMessage() . '</error>');
            return 1;
        }
        $output->writeln("Trusted $device.");
        $output->writeln("On that server, trust this one too: occ harp:trust $me");
        return 0;
    }
}
