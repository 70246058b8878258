<?php
/**
 * The app's settings, kept in Nextcloud's app config (IConfig): where the
 * node keeps its state, how it listens, and the folder mappings. Each falls
 * back to the extension's INI setting, so `php --ri harp` and the app agree.
 *
 *   occ config:app:set harpbridge state_dir --value=/var/lib/harp
 *   occ config:app:set harpbridge listen --value=0.0.0.0:4433
 *   occ config:app:set harpbridge mdns --value=no
 *   occ config:app:set harpbridge name --value=office-a
 *   occ config:app:set harpbridge legacy_hook --value=yes   (also listen to OC_Filesystem post_write)
 */

declare(strict_types=1);

namespace OCA\Harp;

use OCP\IConfig;

class Config
{
    public const APP = 'harpbridge';

    public function __construct(private IConfig $config)
    {
    }

    private function get(string $key): string
    {
        return (string) $this->config->getAppValue(self::APP, $key, '');
    }

    /** The state directory: app config, else harp.state_dir, else <datadirectory>/harp
     * (outside every user's files, so Nextcloud never scans it). */
    public function stateDir(): string
    {
        $dir = $this->get('state_dir');
        if ($dir === '') {
            $dir = (string) ini_get('harp.state_dir');
        }
        if ($dir === '') {
            $data = $this->config->getSystemValueString('datadirectory', '');
            $dir = $data !== '' ? rtrim($data, '/') . '/harp' : '/var/lib/harp';
        }
        return $dir;
    }

    public function listen(): string
    {
        $l = $this->get('listen');
        if ($l === '') {
            $l = (string) ini_get('harp.listen');
        }
        return $l !== '' ? $l : '0.0.0.0:4433';
    }

    public function mdns(): bool
    {
        $m = $this->get('mdns');
        if ($m === '') {
            $ini = ini_get('harp.mdns');
            return $ini === false || !in_array(strtolower((string) $ini), ['0', 'off', 'no', 'false', ''], true);
        }
        return in_array(strtolower($m), ['1', 'yes', 'on', 'true'], true);
    }

    public function deviceName(): string
    {
        $n = $this->get('name');
        if ($n === '') {
            $n = (string) ini_get('harp.name');
        }
        return $n !== '' ? $n : (string) gethostname();
    }

    public function legacyHook(): bool
    {
        return in_array(strtolower($this->get('legacy_hook')), ['1', 'yes', 'on', 'true'], true);
    }

    /** @return list<array<string, mixed>> the stored mappings (see FolderMap) */
    public function mappings(): array
    {
        $raw = $this->get('folders');
        $list = $raw === '' ? [] : json_decode($raw, true);
        return is_array($list) ? array_values($list) : [];
    }

    /** @param list<array<string, mixed>> $mappings */
    public function setMappings(array $mappings): void
    {
        $this->config->setAppValue(self::APP, 'folders', (string) json_encode(array_values($mappings), JSON_UNESCAPED_SLASHES));
    }
}
