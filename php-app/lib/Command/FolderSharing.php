<?php
/**
 * What harp:folder:share and harp:folder:unshare have in common: they ask
 * the running daemon to change whom a mapped folder is shared with, then
 * keep what its node now says in the mapping, which the daemon applies each
 * time it starts.
 */

declare(strict_types=1);

namespace OCA\Harp\Command;

use Harp\Exception\NotRunningException;
use OC\Core\Command\Base;
use OCA\Harp\Bridge\Bridge;
use OCA\Harp\DeviceId;
use OCA\Harp\FolderMap;
use OCA\Harp\Mapping;
use Symfony\Component\Console\Input\InputArgument;
use Symfony\Component\Console\Input\InputInterface;
use Symfony\Component\Console\Output\OutputInterface;

abstract class FolderSharing extends Base
{
    public function __construct(protected FolderMap $folders, protected Bridge $bridge)
    {
        parent::__construct();
    }

    /** Asks the daemon for the change. */
    abstract protected function change(string $folderId, string $deviceId): void;

    protected function configureSharing(string $name, string $description, string $device): void
    {
        parent::configure();
        $this->setName($name)
            ->setDescription($description)
            ->addArgument('folderId', InputArgument::REQUIRED, 'a mapped Harp folder (occ harp:folder:list)')
            ->addArgument('deviceId', InputArgument::REQUIRED, $device);
    }

    protected function execute(InputInterface $input, OutputInterface $output): int
    {
        $folderId = (string) $input->getArgument('folderId');
        if ($this->folders->get($folderId) === null) {
            $output->writeln("<error>No Harp folder '$folderId' is mapped here: occ harp:folder:list shows them, occ harp:folder:add maps one.</error>");
            return 1;
        }
        try {
            $device = DeviceId::normalize((string) $input->getArgument('deviceId'));
            $this->change($folderId, $device);
            $f = array_values(array_filter($this->bridge->folders(), fn (array $f) => $f['id'] === $folderId))[0] ?? null;
            $trusted = in_array($device, array_column(array_filter($this->bridge->peers(), fn (array $p) => $p['trusted']), 'device_id'), true);
        } catch (NotRunningException) {
            $output->writeln('<error>harp:daemon is not running: start it (systemctl start harp-nextcloud), then run this again.</error>');
            return 1;
        } catch (\Throwable $e) {
            $output->writeln('<error>' . $e->getMessage() . '</error>');
            return 1;
        }
        if ($f === null) {
            $output->writeln("<error>The daemon does not sync '$folderId': restart it (systemctl restart harp-nextcloud), then run this again.</error>");
            return 1;
        }
        $all = (bool) $f['all_devices'];
        $this->folders->setDevices($folderId, $all ? null : $f['devices']);
        if ($input->getOption('output') !== self::OUTPUT_FORMAT_PLAIN) {
            $this->writeArrayInOutputFormat($input, $output, ['folder' => $folderId, 'device' => $device, 'all_devices' => $all, 'devices' => $f['devices'], 'trusted' => $trusted]);
            return 0;
        }
        $output->writeln("Harp folder '$folderId' is shared with: " . Mapping::describeSharing($all, $f['devices']) . '.');
        if (!$trusted && $this instanceof FolderShare) {
            $output->writeln("$device is not trusted here yet: nothing goes to it until occ harp:trust $device.");
        }
        return 0;
    }
}
