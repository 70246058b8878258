<?php
/**
 * occ harp:untrust DEVICE — stops trusting a device; its live connection is
 * dropped at once.
 */

declare(strict_types=1);

namespace OCA\Harp\Command;

use OC\Core\Command\Base;
use OCA\Harp\Bridge\Bridge;
use Symfony\Component\Console\Input\InputArgument;
use Symfony\Component\Console\Input\InputInterface;
use Symfony\Component\Console\Output\OutputInterface;

class Untrust extends Base
{
    public function __construct(private Bridge $bridge)
    {
        parent::__construct();
    }

    protected function configure(): void
    {
        parent::configure();
        $this->setName('harp:untrust')
            ->setDescription('Stop trusting a Harp device; its connection is dropped')
            ->addArgument('device', InputArgument::REQUIRED, 'its device ID');
    }

    protected function execute(InputInterface $input, OutputInterface $output): int
    {
        try {
            $this->bridge->untrust((string) $input->getArgument('device'));
        } catch (\Throwable $e) {
            $output->writeln('<error>' . $e->getMessage() . '</error>');
            return 1;
        }
        $output->writeln('No longer trusted: ' . $input->getArgument('device'));
        return 0;
    }
}
