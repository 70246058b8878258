<?php
/**
 * Test stand-in for OC\Core\Command\Base, the base class of occ commands.
 * Mirrors nextcloud/server core/Command/Base.php (Nextcloud 28-31): the
 * `--output` option (plain, json, json_pretty) and writeArrayInOutputFormat /
 * writeTableInOutputFormat / writeMixedInOutputFormat with the same
 * signatures and the same output. Bash completion and the docs link in the
 * help text are left out.
 * Checked by reading nextcloud/server core/Command/Base.php at 01a1cdec
 * (2024 header). Also left out: the real run() registers SIGTERM/SIGINT
 * handlers (cancelOperation) before Command::run; harp:daemon registers
 * its own afterwards, in execute(), which replace them.
 */

declare(strict_types=1);

namespace OC\Core\Command;

use Symfony\Component\Console\Command\Command;
use Symfony\Component\Console\Helper\Table;
use Symfony\Component\Console\Input\InputInterface;
use Symfony\Component\Console\Input\InputOption;
use Symfony\Component\Console\Output\OutputInterface;

class Base extends Command
{
    public const OUTPUT_FORMAT_PLAIN = 'plain';
    public const OUTPUT_FORMAT_JSON = 'json';
    public const OUTPUT_FORMAT_JSON_PRETTY = 'json_pretty';

    protected function configure()
    {
        $this->addOption('output', null, InputOption::VALUE_OPTIONAL, 'Output format (plain, json or json_pretty, default is plain)', self::OUTPUT_FORMAT_PLAIN);
    }

    protected function writeArrayInOutputFormat(InputInterface $input, OutputInterface $output, iterable $items, string $prefix = '  - '): void
    {
        $format = $input->getOption('output');
        if ($format === self::OUTPUT_FORMAT_JSON || $format === self::OUTPUT_FORMAT_JSON_PRETTY) {
            $items = is_array($items) ? $items : iterator_to_array($items);
            $output->writeln((string) json_encode($items, $format === self::OUTPUT_FORMAT_JSON_PRETTY ? JSON_PRETTY_PRINT : 0));
            return;
        }
        foreach ($items as $key => $item) {
            if (is_iterable($item)) {
                $output->writeln($prefix . $key . ':');
                $this->writeArrayInOutputFormat($input, $output, $item, '  ' . $prefix);
            } elseif (is_int($key)) {
                $output->writeln($prefix . $this->valueToString($item));
            } else {
                $value = $this->valueToString($item);
                $output->writeln($prefix . $key . ($value === null ? '' : ': ' . $value));
            }
        }
    }

    protected function writeTableInOutputFormat(InputInterface $input, OutputInterface $output, array $items): void
    {
        $format = $input->getOption('output');
        if ($format === self::OUTPUT_FORMAT_JSON || $format === self::OUTPUT_FORMAT_JSON_PRETTY) {
            $output->writeln((string) json_encode($items, $format === self::OUTPUT_FORMAT_JSON_PRETTY ? JSON_PRETTY_PRINT : 0));
            return;
        }
        $table = new Table($output);
        $table->setRows($items);
        if ($items !== [] && is_string(array_key_first(reset($items)))) {
            $table->setHeaders(array_keys(reset($items)));
        }
        $table->render();
    }

    protected function writeMixedInOutputFormat(InputInterface $input, OutputInterface $output, $item)
    {
        if (is_array($item)) {
            $this->writeArrayInOutputFormat($input, $output, $item, '');
            return;
        }
        $format = $input->getOption('output');
        if ($format === self::OUTPUT_FORMAT_JSON || $format === self::OUTPUT_FORMAT_JSON_PRETTY) {
            $output->writeln((string) json_encode($item, $format === self::OUTPUT_FORMAT_JSON_PRETTY ? JSON_PRETTY_PRINT : 0));
            return;
        }
        $output->writeln((string) $this->valueToString($item, false));
    }

    protected function valueToString($value, bool $returnNull = true): ?string
    {
        return match (true) {
            $value === false => 'false',
            $value === true => 'true',
            $value === null => $returnNull ? null : 'null',
            default => (string) $value,
        };
    }
}
