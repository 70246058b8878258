<?php

declare(strict_types=1);

namespace OCA\Harp\Tests;

use Harp\Tests\Env;
use OCA\Harp\Config;
use OCA\Harp\Migration\Uninstall;
use OCA\Harp\SetupCheck;
use OCA\Harp\Tests\Fake\Server;
use PHPUnit\Framework\TestCase;

/**
 * The daemon through Nextcloud's maintenance mode, an upgrade, the app
 * disabled and removed: no file-cache writes in maintenance mode, a
 * restart for new code, no restart loop once disabled, and an uninstall
 * that keeps the device key unless the admin asked otherwise.
 */
final class LifecycleTest extends TestCase
{
    public function testMaintenanceModeHoldsBackCacheWritesAndAnUpgradeRestartsTheDaemon(): void
    {
        [$a, $b, $pa, $pb] = Nc::pair();
        try {
            $na = Server::boot($a);
            $nb = Server::boot($b);

            $nb->setSystemValues(['maintenance' => true]); // occ maintenance:mode --on
            Env::waitUntil(fn () => Nc::logged($nb, 'maintenance mode: harp:daemon writes nothing to the file cache'), 20, "B's daemon to see maintenance mode");
            $na->write('alice', '/Offices/during.txt', 'written during B\'s maintenance');
            Env::waitUntil(fn () => is_file("$b/data/alice/files/Offices/during.txt") && Nc::logged($nb, 'docs/during.txt held back: maintenance mode'), 30, 'the file on B held back');
            $this->assertArrayNotHasKey('files/Offices/during.txt', $nb->cache('alice'), 'no file-cache write in maintenance mode');

            $nb->setSystemValues(['maintenance' => false]);
            Env::waitUntil(fn () => isset($nb->cache('alice')['files/Offices/during.txt']), 30, 'the file in the cache once maintenance mode ended');

            // occ upgrade writes the new version into config.php: the daemon ends, for systemd to start the new code.
            $nb->setSystemValues(['version' => '32.0.0.1']);
            [$code, $out] = $pb->wait(30);
            $this->assertSame(75, $code, $out);
            $this->assertStringContainsString('harp:daemon: stopped (exit 75)', $out);
            $this->assertTrue(Nc::logged($nb, 'Nextcloud was upgraded (31.0.0.0 to 32.0.0.1)'));
        } finally {
            Nc::stop($pa, $pb);
        }
    }

    public function testOnceTheAppIsDisabledTheDaemonStopsAndSystemdDoesNotRestartIt(): void
    {
        $root = Nc::server();
        $unit = Server::boot($root)->get(SetupCheck::class)->systemdUnit('/var/www/nextcloud/occ');
        $this->assertMatchesRegularExpression('/^Restart=on-failure$/m', $unit);
        $this->assertSame(1, preg_match('/^RestartPreventExitStatus=(.*)$/m', $unit, $m));
        $noRestart = array_map('intval', explode(' ', trim($m[1])));

        $p = Nc::daemon($root);
        Nc::setConfig($root, 'enabled', 'no'); // occ app:disable harpbridge
        [$code, $out] = $p->wait(30);
        $this->assertSame(78, $code, $out);
        $this->assertContains($code, $noRestart, 'the unit does not restart a daemon whose app was disabled');
        // What systemd would run next: occ no longer knows the command.
        [$code, $out, $err] = Nc::occ($root, ['harp:daemon']);
        $this->assertSame(1, $code);
        $this->assertStringContainsString('There are no commands defined in the "harp" namespace.', $out . $err);
        $this->assertContains($code, $noRestart, 'nor the unknown command');
    }

    public function testUninstallKeepsTheDeviceKeyUnlessTheAdminAskedToRemoveIt(): void
    {
        $root = Nc::server();
        $s = Server::boot($root);
        $dir = $s->get(Config::class)->stateDir();
        $id = (new \Harp\Node($dir))->deviceId();
        $out = new class () implements \OCP\Migration\IOutput {
            public array $lines = [];
            public function info($message) { $this->lines[] = $message; }
            public function warning($message) { $this->lines[] = "warning: $message"; }
        };
        $s->get(Uninstall::class)->run($out);
        $this->assertDirectoryExists($dir);
        $this->assertSame($id, (new \Harp\Node($dir))->deviceId(), 'the same device key');
        $this->assertStringContainsString("Kept Harp's state directory $dir", $out->lines[0]);

        Nc::setConfig($root, 'remove_state_on_uninstall', 'yes');
        $s = Server::boot($root);
        $s->get(Uninstall::class)->run($out);
        $this->assertDirectoryDoesNotExist($dir);
        $this->assertSame("Removed Harp's state directory $dir.", $out->lines[1]);
        $this->assertDirectoryExists("$root/data/alice/files", "users' files are not touched");
    }
}
