<?php
/**
 * occ harp:daemon — owns the Harp node in this long-lived PHP CLI process
 * and loops on poll() until SIGTERM or SIGINT, bringing incoming files into
 * Nextcloud's file cache (see OCA\Harp\Daemon). Run it under systemd:
 * `occ harp:setup` prints the unit.
 */

declare(strict_types=1);

namespace OCA\Harp\Command;

use Harp\Event;
use OC\Core\Command\Base;
use OCA\Harp\Daemon as Loop;
use OCA\Harp\ExtensionCheck;
use Symfony\Component\Console\Input\InputInterface;
use Symfony\Component\Console\Output\OutputInterface;

class Daemon extends Base
{
    public function __construct(private Loop $loop)
    {
        parent::__construct();
    }

    protected function configure(): void
    {
        parent::configure();
        $this->setName('harp:daemon')
            ->setDescription('Run the Harp node for this Nextcloud until SIGTERM (run it under systemd: see harp:setup)');
    }

    protected function execute(InputInterface $input, OutputInterface $output): int
    {
        if (!ExtensionCheck::loaded()) {
            $output->writeln('<error>' . ExtensionCheck::installHint() . '</error>');
            return 1;
        }
        $stop = false;
        pcntl_async_signals(true);
        foreach ([SIGTERM, SIGINT] as $sig) {
            pcntl_signal($sig, static function () use (&$stop): void {
                $stop = true;
            });
        }
        try {
            $node = $this->loop->open();
        } catch (\Harp\Exception\HarpException $e) {
            $output->writeln('<error>' . $e->getMessage() . '</error>');
            return 1;
        }
        $s = $node->status();
        $output->writeln("harp:daemon: serving {$s['state_dir']} as {$s['device_id']} on {$s['listen']} (pid {$s['pid']})");
        // A closure by reference: an arrow function would capture $stop's value once.
        $this->loop->loop(static function () use (&$stop): bool {
            return $stop;
        }, static function (Event $ev) use ($output): void {
            $what = $ev->path !== '' ? "{$ev->folderId}/{$ev->path}" : $ev->deviceId;
            $output->writeln(date('H:i:s ') . str_pad($ev->kind, 13) . ' ' . $what, OutputInterface::VERBOSITY_VERBOSE);
        });
        $output->writeln('harp:daemon: stopped');
        return 0;
    }
}
