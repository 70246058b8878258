<?php
/**
 * Harp's line in Administration > Overview (ISetupCheck, Nextcloud 28+):
 * an error when the harp extension is missing or too old, or when
 * harp:daemon is not running (files from peers would not arrive), with the
 * fix; success with the device ID otherwise.
 */

declare(strict_types=1);

namespace OCA\Harp\SetupChecks;

use OCA\Harp\Bridge\Bridge;
use OCA\Harp\ExtensionCheck;
use OCP\IL10N;
use OCP\SetupCheck\ISetupCheck;
use OCP\SetupCheck\SetupResult;

class HarpCheck implements ISetupCheck
{
    public function __construct(private Bridge $bridge, private IL10N $l)
    {
    }

    public function getCategory(): string
    {
        return 'system';
    }

    public function getName(): string
    {
        return $this->l->t('Harp sync');
    }

    public function run(): SetupResult
    {
        if (!ExtensionCheck::loaded() || !ExtensionCheck::versionOk()) {
            return SetupResult::error($this->l->t('The harp PHP extension is missing or too old: %s', [ExtensionCheck::installHint()]));
        }
        try {
            $s = $this->bridge->status();
        } catch (\Throwable $e) {
            $s = ['running' => false];
        }
        if (empty($s['running'])) {
            return SetupResult::error($this->l->t('harp:daemon is not running: files from other offices do not arrive. Run occ harp:setup for the systemd unit, then systemctl enable --now harp-nextcloud.'));
        }
        return SetupResult::success($this->l->t('harp %1$s is loaded and harp:daemon runs as device %2$s.', [ExtensionCheck::version(), (string) $s['device_id']]));
    }
}
