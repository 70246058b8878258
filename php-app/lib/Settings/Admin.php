<?php
/**
 * The admin settings form: this device's ID, the peers (LAN or WAN, RTT,
 * trusted, connected), the folders and their sync state, transfers in
 * flight, WAN bytes saved, and pairing (trust a discovered device after
 * comparing IDs). The data is gathered here; templates/admin.php only prints.
 */

declare(strict_types=1);

namespace OCA\Harp\Settings;

use OCA\Harp\Bridge\Bridge;
use OCA\Harp\ExtensionCheck;
use OCA\Harp\FolderMap;
use OCP\AppFramework\Http\TemplateResponse;
use OCP\IL10N;
use OCP\IURLGenerator;
use OCP\Util;
use OCP\Settings\ISettings;

class Admin implements ISettings
{
    public function __construct(private Bridge $bridge, private FolderMap $folders, private IURLGenerator $url, private IL10N $l)
    {
    }

    public function getForm()
    {
        // js/admin.js: the pairing and folder buttons post with the request
        // token and show the answer in place (password confirmation first
        // where the action needs it).
        Util::addScript('harpbridge', 'admin');
        return new TemplateResponse('harpbridge', 'admin', $this->state(), '');
    }

    public function getSection()
    {
        return 'harpbridge';
    }

    public function getPriority()
    {
        return 10;
    }

    /** Everything the page shows, as plain data (also what the tests check). */
    public function state(): array
    {
        $state = [
            'extension' => $this->bridge->available(),
            'install_hint' => $this->bridge->available() ? '' : ExtensionCheck::installHint(),
            'running' => false,
            'error' => '',
            'device_id' => '',
            'name' => '',
            'peers' => [],
            'folders' => [],
            'transfers' => [],
            'wan_bytes_saved' => 0,
            'trust_url' => $this->url->linkToRoute('harpbridge.pairing.trust'),
            'untrust_url' => $this->url->linkToRoute('harpbridge.pairing.untrust'),
            'scan_url' => $this->url->linkToRoute('harpbridge.folder.scan'),
            'remove_url' => $this->url->linkToRoute('harpbridge.folder.remove'),
        ];
        try {
            $s = $this->bridge->status();
        } catch (\Throwable $e) {
            $s = ['running' => false, 'error' => $e->getMessage()];
        }
        $state['running'] = !empty($s['running']);
        $state['error'] = (string) ($s['error'] ?? ($state['running'] ? '' : $this->l->t('harp:daemon is not running: start it (occ harp:setup prints the systemd unit).')));
        $synced = [];
        if ($state['running']) {
            $state['device_id'] = (string) $s['device_id'];
            $state['name'] = (string) $s['name'];
            $state['transfers'] = $s['transfers'];
            foreach ($s['folders'] as $f) {
                $synced[$f['id']] = $f;
            }
            foreach ($s['peers'] as $p) {
                $state['peers'][] = [
                    'device_id' => $p['device_id'],
                    'name' => (string) ($p['name'] ?? ''),
                    'network' => $p['connected'] ? ($p['lan'] ? $this->l->t('LAN') : $this->l->t('WAN')) : '',
                    'rtt_ms' => $p['connected'] && $p['rtt_ms'] !== null ? round((float) $p['rtt_ms'], 1) : null,
                    'trusted' => (bool) $p['trusted'],
                    'connected' => (bool) $p['connected'],
                ];
                // What LAN peers sent us is what the WAN did not have to carry.
                if ($p['lan']) {
                    $state['wan_bytes_saved'] += (int) $p['bytes_in'];
                }
            }
        }
        $busy = array_count_values(array_column($state['transfers'], 'folder'));
        foreach ($this->folders->all() as $m) {
            $f = $synced[$m->folderId] ?? null;
            $state['folders'][] = [
                'id' => $m->folderId,
                'where' => "{$m->user}: {$m->path}",
                'files' => $f['files'] ?? null,
                'conflicts' => $f['conflicts'] ?? 0,
                'state' => match (true) {
                    $m->paused !== null => $this->l->t('paused: %s', [$m->paused]),
                    $f === null => $this->l->t('not syncing'),
                    isset($busy[$m->folderId]) => $this->l->t('syncing (%d transfers)', [$busy[$m->folderId]]),
                    ($f['conflicts'] ?? 0) > 0 => $this->l->t('up to date, with conflict copies'),
                    default => $this->l->t('up to date'),
                },
            ];
        }
        return $state;
    }
}
