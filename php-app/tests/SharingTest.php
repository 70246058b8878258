<?php

declare(strict_types=1);

namespace OCA\Harp\Tests;

use Harp\Client;
use Harp\Tests\Env;
use OCA\Harp\Config;
use OCA\Harp\Tests\Fake\Server;
use PHPUnit\Framework\TestCase;

/**
 * Whom a folder is shared with, through occ on a stand-in Nextcloud with a
 * real `occ harp:daemon`: harp:folder:add --device, harp:folder:share and
 * :unshare, harp:folder:list; what the daemon's node then says (its
 * folders(), read with a Harp\Client), and that a restarted daemon keeps it.
 */
final class SharingTest extends TestCase
{
    /** @return array<string, array> the daemon's folders by id */
    private static function nodeFolders(Client $c): array
    {
        return array_column($c->folders(), null, 'id');
    }

    /** @return array<string, array> harp:folder:list --output=json by folder */
    private static function listed(string $root): array
    {
        return array_column(Nc::occJson($root, ['harp:folder:list']), null, 'folder');
    }

    public function testFolderAddDeviceShareUnshareAndListReachTheDaemonAndOutliveARestart(): void
    {
        $root = Nc::server();
        $client = new Client(Server::boot($root)->get(Config::class)->stateDir());
        // Other devices: their IDs are all it takes (they need not run).
        $ids = [];
        foreach (['b', 'c', 'd'] as $n) {
            $ids[$n] = (new \Harp\Node(Env::tempDir()))->deviceId();
        }
        [$b, $c, $d] = [$ids['b'], $ids['c'], $ids['d']];

        // Before the daemon runs: the mapping keeps the devices, checked and
        // in Harp's text form (lower case and no dashes are fine to type).
        $typed = strtolower(str_replace('-', '', $c));
        [$code, $out, $err] = Nc::occ($root, ['harp:folder:add', 'sales', 'alice', '/Sales', '--device', $b, '--device', $typed]);
        $this->assertSame(0, $code, $out . $err);
        $this->assertStringContainsString("Shared with: $b, $c.", $out);
        $this->assertStringContainsString('harp:daemon is not running; it syncs this folder when it starts.', $out);
        $mistyped = substr($b, 0, -1) . (str_ends_with($b, 'A') ? 'B' : 'A');
        [$code, $out] = Nc::occ($root, ['harp:folder:add', 'hr', 'alice', '/HR', '--device', $mistyped]);
        $this->assertSame(1, $code);
        $this->assertStringContainsString("Device ID '$mistyped' fails its check: a character is mistyped.", $out);
        $this->assertSame(['sales'], array_keys(self::listed($root)), 'nothing mapped for a mistyped device');
        $this->assertSame(["$b, $c", [$b, $c], false], [self::listed($root)['sales']['shared with'], self::listed($root)['sales']['devices'], self::listed($root)['sales']['all_devices']]);
        [$code, $out] = Nc::occ($root, ['harp:folder:share', 'sales', $d]);
        $this->assertSame(1, $code);
        $this->assertStringContainsString('harp:daemon is not running: start it (systemctl start harp-nextcloud), then run this again.', $out);

        // The daemon applies the mapping: sales goes to B and C only.
        $daemon = Nc::daemon($root);
        $f = self::nodeFolders($client);
        $this->assertFalse($f['sales']['all_devices']);
        $this->assertEqualsCanonicalizing([$b, $c], $f['sales']['devices']);

        foreach ([$b, $c] as $id) {
            [$code, $out] = Nc::occ($root, ['harp:trust', $id, '127.0.0.1:9']);
            $this->assertSame(0, $code, $out);
        }
        // Without --device: every trusted device, now and later.
        [$code, $out, $err] = Nc::occ($root, ['harp:folder:add', 'docs', 'alice', '/Docs']);
        $this->assertSame(0, $code, $out . $err);
        $this->assertStringContainsString('Shared with: all trusted devices.', $out);
        $this->assertStringContainsString('The daemon syncs it now', $out);
        $f = self::nodeFolders($client);
        $this->assertTrue($f['docs']['all_devices']);
        $this->assertEqualsCanonicalizing([$b, $c], $f['docs']['devices']);

        // Unsharing from "every trusted device" leaves the ones trusted now.
        [$code, $out] = Nc::occ($root, ['harp:folder:unshare', 'docs', $b]);
        $this->assertSame(0, $code, $out);
        $this->assertStringContainsString("Harp folder 'docs' is shared with: $c.", $out);
        $this->assertSame([false, [$c]], [self::nodeFolders($client)['docs']['all_devices'], self::nodeFolders($client)['docs']['devices']]);
        // Sharing with a device not trusted here: done, and said that nothing goes to it yet.
        [$code, $out] = Nc::occ($root, ['harp:folder:share', 'sales', $d]);
        $this->assertSame(0, $code, $out);
        $this->assertStringContainsString("$d is not trusted here yet: nothing goes to it until occ harp:trust $d.", $out);
        $j = Nc::occJson($root, ['harp:folder:unshare', 'sales', strtolower($b)]);
        $this->assertSame(['sales', $b, false, true], [$j['folder'], $j['device'], $j['all_devices'], $j['trusted']]);
        $this->assertEqualsCanonicalizing([$c, $d], $j['devices']);
        $this->assertEqualsCanonicalizing([$c, $d], self::nodeFolders($client)['sales']['devices']);

        $l = self::listed($root);
        $this->assertEqualsCanonicalizing([$c, $d], explode(', ', $l['sales']['shared with']));
        $this->assertSame([$c], $l['docs']['devices']);
        [$code, $out] = Nc::occ($root, ['harp:folder:list']);
        $this->assertSame(0, $code);
        $this->assertMatchesRegularExpression('/shared with/', $out);
        $this->assertMatchesRegularExpression('/\| docs +\| alice +\| \/Docs +\| \S+ +\| ' . preg_quote($c, '/') . ' +\|/', $out);

        // Mistakes change nothing.
        [$code, $out] = Nc::occ($root, ['harp:folder:share', 'nosuch', $b]);
        $this->assertSame(1, $code);
        $this->assertStringContainsString("No Harp folder 'nosuch' is mapped here", $out);
        [$code, $out] = Nc::occ($root, ['harp:folder:unshare', 'docs', 'office-b']);
        $this->assertSame(1, $code);
        $this->assertStringContainsString("'office-b' is not a Harp device ID", $out);
        $this->assertSame([$c], self::nodeFolders($client)['docs']['devices']);

        // A restarted daemon shares each folder as before: not with every trusted device again.
        $daemon->signal(SIGTERM);
        $this->assertSame(0, $daemon->wait(30)[0]);
        $daemon = Nc::daemon($root);
        $f = self::nodeFolders($client);
        $this->assertSame([false, [$c]], [$f['docs']['all_devices'], $f['docs']['devices']]);
        $this->assertFalse($f['sales']['all_devices']);
        $this->assertEqualsCanonicalizing([$c, $d], $f['sales']['devices']);
        $daemon->signal(SIGTERM);
        $this->assertSame(0, $daemon->wait(30)[0]);

        // Without the extension: the list comes from the mappings, and a change says how to install it.
        [$code, $out] = Nc::occ($root, ['harp:folder:list'], false);
        $this->assertSame(0, $code);
        $this->assertStringContainsString($c, $out);
        [$code, $out] = Nc::occ($root, ['harp:folder:share', 'docs', $b], false);
        $this->assertSame(1, $code);
        $this->assertStringContainsString('sudo scripts/install', $out);
    }
}
