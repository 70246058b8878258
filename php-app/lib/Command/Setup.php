<?php
/**
 * occ harp:setup — checks every prerequisite and says exactly what to fix,
 * then prints the systemd unit that runs harp:daemon. Exit code 1 while
 * something needs fixing.
 */

declare(strict_types=1);

namespace OCA\Harp\Command;

use OC\Core\Command\Base;
use OCA\Harp\SetupCheck;
use Symfony\Component\Console\Input\InputInterface;
use Symfony\Component\Console\Output\OutputInterface;

class Setup extends Base
{
    public function __construct(private SetupCheck $check)
    {
        parent::__construct();
    }

    protected function configure(): void
    {
        parent::configure();
        $this->setName('harp:setup')->setDescription('Check the Harp extension, state directory, daemon and port; print the systemd unit');
    }

    protected function execute(InputInterface $input, OutputInterface $output): int
    {
        $checks = $this->check->run();
        $ok = !in_array(false, array_column($checks, 'ok'), true);
        $occ = realpath((string) ($_SERVER['argv'][0] ?? 'occ')) ?: 'occ';
        $unit = $this->check->systemdUnit($occ);
        if ($input->getOption('output') !== self::OUTPUT_FORMAT_PLAIN) {
            $this->writeArrayInOutputFormat($input, $output, ['ok' => $ok, 'checks' => $checks, 'systemd_unit' => $unit]);
            return $ok ? 0 : 1;
        }
        foreach ($checks as $c) {
            $output->writeln(sprintf('%s %-18s %s', $c['ok'] ? '<info>✓</info>' : '<error>✗</error>', $c['check'], $c['detail']));
            if (!$c['ok']) {
                $output->writeln('    fix: ' . $c['fix']);
            }
        }
        $output->writeln('');
        $output->writeln('systemd unit for /etc/systemd/system/harp-nextcloud.service:');
        $output->writeln('');
        $output->write($unit);
        $output->writeln('');
        $output->writeln($ok ? 'Everything is in place.' : 'Fix what is marked ✗ above, then run occ harp:setup again.');
        return $ok ? 0 : 1;
    }
}
