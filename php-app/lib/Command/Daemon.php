<?php
/**
 * occ harp:daemon — owns the Harp node in this long-lived PHP CLI process
 * and loops on poll() until SIGTERM or SIGINT, bringing incoming files into
 * Nextcloud's file cache (see OCA\Harp\Daemon). Run it under systemd:
 * `occ harp:setup` prints the unit. Exit codes: 0 stopped by a signal,
 * 75 start me again (an upgrade, a port or state directory in use), 78 do
 * not (the extension is missing or the app was disabled); occ itself exits
 * 1 when the app is disabled, so harp:daemon is unknown.
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
            return Loop::EXIT_STOP;
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
            // Another daemon owns the state directory, the port is taken...: worth another try.
            $output->writeln('<error>' . $e->getMessage() . '</error>');
            return Loop::EXIT_RESTART;
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
        $code = $this->loop->exitCode ?? 0;
        $output->writeln('harp:daemon: stopped' . ($code !== 0 ? " (exit $code)" : ''));
        return $code;
    }
}
