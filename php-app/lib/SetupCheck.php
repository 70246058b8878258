<?php
/**
 * What `occ harp:setup` checks, each with the exact fix: the extension and
 * its version, the state directory and its permissions, the daemon (the
 * owner process), the QUIC port, and the folder mappings. Also writes the
 * systemd unit that runs the daemon.
 */

declare(strict_types=1);

namespace OCA\Harp;

use OCA\Harp\Bridge\Bridge;

class SetupCheck
{
    public function __construct(private Config $config, private Bridge $bridge, private FolderMap $folders)
    {
    }

    /** @return list<array{check: string, ok: bool, detail: string, fix: string}> */
    public function run(): array
    {
        $checks = [];
        $add = function (string $check, bool $ok, string $detail, string $fix = '') use (&$checks): void {
            $checks[] = ['check' => $check, 'ok' => $ok, 'detail' => $detail, 'fix' => $ok ? '' : $fix];
        };

        $loaded = ExtensionCheck::loaded();
        $add('extension', $loaded, $loaded ? 'harp ' . ExtensionCheck::version() . ' is loaded' : 'harp.so is not loaded', ExtensionCheck::installHint());
        if ($loaded) {
            $add('extension version', ExtensionCheck::versionOk(), 'harp ' . ExtensionCheck::version() . ', this app needs ' . ExtensionCheck::MIN_VERSION . ' or newer', ExtensionCheck::installHint());
        }

        $dir = $this->config->stateDir();
        $me = self::user();
        if (!is_dir($dir)) {
            $parent = dirname($dir);
            $ok = is_dir($parent) && is_writable($parent);
            $add('state directory', $ok, "$dir does not exist yet" . ($ok ? '; harp:daemon creates it' : ''), "mkdir -m 700 $dir && chown $me: $dir   (or choose another: occ config:app:set harpbridge state_dir --value=/var/lib/harp)");
        } else {
            $mode = fileperms($dir) & 0777;
            $owner = function_exists('posix_getpwuid') ? (posix_getpwuid((int) fileowner($dir))['name'] ?? (string) fileowner($dir)) : (string) fileowner($dir);
            $problems = [];
            if ($owner !== $me) {
                $problems[] = "owned by $owner, not $me (the user running occ and the web server)";
            }
            if (!is_writable($dir)) {
                $problems[] = "not writable by $me";
            }
            // 0700, or 0750 (set-group-ID) when a group is let in to notify
            // and read; the daemon narrows anything wider at start.
            if ($mode & 0027) {
                $problems[] = sprintf('mode %o lets other users reach the device key and the control socket', $mode);
            }
            $add('state directory', $problems === [], $dir . ($problems === [] ? sprintf(' (mode %o, owner %s)', $mode, $owner) : ': ' . implode('; ', $problems)), "chown -R $me: $dir && chmod 700 $dir");
        }

        $status = $loaded ? $this->safeStatus() : ['running' => false];
        $running = !empty($status['running']);
        $add('daemon', $running, $running ? "harp:daemon runs (pid {$status['pid']}), device {$status['device_id']}" : 'harp:daemon is not running' . (isset($status['outbox']) ? "; {$status['outbox']} changes wait in the outbox" : ''),
            'Install the systemd unit below as /etc/systemd/system/harp-nextcloud.service, then: systemctl daemon-reload && systemctl enable --now harp-nextcloud');

        $listen = $running ? (string) $status['listen'] : $this->config->listen();
        if ($running) {
            $add('port', true, "QUIC on UDP $listen; peers beyond the LAN need this port open (e.g. ufw allow " . self::port($listen) . '/udp)');
        } else {
            $free = self::udpPortFree($listen);
            $add('port', $free, $free ? "UDP $listen is free for the daemon" : "UDP $listen is taken by another program", 'Choose another address: occ config:app:set harpbridge listen --value=0.0.0.0:' . (self::port($listen) + 1));
        }

        $n = count($this->folders->all());
        $add('folders', $n > 0, "$n folder(s) mapped", 'Map one: occ harp:folder:add <folderId> <user> <path>');
        return $checks;
    }

    private function safeStatus(): array
    {
        try {
            return $this->bridge->status();
        } catch (\Throwable $e) {
            return ['running' => false, 'error' => $e->getMessage()];
        }
    }

    /** The unit that runs `occ harp:daemon` as the web server's user. */
    public function systemdUnit(string $occ, string $php = PHP_BINARY): string
    {
        $user = self::user();
        return <<<UNIT
            [Unit]
            Description=Harp sync for Nextcloud (occ harp:daemon)
            After=network-online.target
            Wants=network-online.target

            [Service]
            User=$user
            ExecStart=$php $occ harp:daemon
            KillSignal=SIGTERM
            TimeoutStopSec=30
            # Restarted after a crash or an upgrade (exit 75), not once the
            # app is disabled (occ exits 1: no harp:daemon any more) or the
            # extension is missing (exit 78).
            Restart=on-failure
            RestartSec=5
            RestartPreventExitStatus=1 78

            [Install]
            WantedBy=multi-user.target

            UNIT;
    }

    public static function user(): string
    {
        if (function_exists('posix_geteuid')) {
            $pw = posix_getpwuid(posix_geteuid());
            if (is_array($pw)) {
                return $pw['name'];
            }
        }
        return (string) get_current_user();
    }

    private static function port(string $listen): int
    {
        return (int) substr($listen, (int) strrpos($listen, ':') + 1);
    }

    private static function udpPortFree(string $listen): bool
    {
        if (self::port($listen) === 0) {
            return true;
        }
        $sock = @stream_socket_server("udp://$listen", $errno, $errstr, STREAM_SERVER_BIND);
        if ($sock === false) {
            return false;
        }
        fclose($sock);
        return true;
    }
}
