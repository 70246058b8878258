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
 *   occ config:app:set harpbridge reconcile_interval --value=600   (seconds between the daemon's reconciles)
 */

declare(strict_types=1);

namespace OCA\Harp;

use OCP\IAppConfig;
use OCP\IConfig;

class Config
{
    public const APP = 'harpbridge';

    public function __construct(private IConfig $config, private ?IAppConfig $appConfig = null)
    {
    }

    /**
     * Reads the values again from the database: Nextcloud's AppConfig
     * keeps them in memory for the life of the process, so the daemon would
     * never see a mapping added after it started. IAppConfig::clearCache
     * exists since Nextcloud 29; on 28 the process keeps what it loaded.
     */
    public function reload(): void
    {
        if ($this->appConfig !== null && method_exists($this->appConfig, 'clearCache')) {
            $this->appConfig->clearCache();
        }
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

    /** Whether the app is enabled (Nextcloud's app value harpbridge/enabled: 'no' once disabled). */
    public function appEnabled(): bool
    {
        return (string) $this->config->getAppValue(self::APP, 'enabled', 'yes') !== 'no';
    }

    /** Seconds between two reconciles of a mapped folder with Nextcloud's file cache (at least 10; default 600). */
    public function reconcileInterval(): float
    {
        $v = $this->get('reconcile_interval');
        return $v === '' || !is_numeric($v) ? 600.0 : max(10.0, (float) $v);
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
