<?php

declare(strict_types=1);

namespace OCA\Harp\Tests;

use Harp\Client;
use Harp\Tests\Env;
use OCA\Harp\Config;
use OCA\Harp\Controller\PairingController;
use OCA\Harp\Settings\Admin;
use OCA\Harp\Tests\Fake\Server;
use PHPUnit\Framework\TestCase;

/**
 * Two stand-in Nextcloud servers, each with `occ harp:daemon` running as a
 * real process on loopback: a write on A goes listener -> notify -> A's
 * daemon -> QUIC -> B's daemon -> B's scanner for that path, and the bytes
 * on B's disk are A's. Pairing uses occ on one side and the admin
 * settings' pairing on the other.
 */
final class EndToEndTest extends TestCase
{
    public function testAWriteOnNextcloudAAppearsInNextcloudBsFileCacheWithoutEcho(): void
    {
        $a = Nc::server();
        $b = Nc::server();
        foreach ([$a, $b] as $root) {
            [$code, $out, $err] = Nc::occ($root, ['harp:folder:add', 'docs', 'alice', '/Offices']);
            $this->assertSame(0, $code, $out . $err);
            $this->assertStringContainsString("Mapped Harp folder 'docs' to alice:/Offices", $out);
        }
        $this->assertSame([['folder' => 'docs', 'user' => 'alice', 'path' => '/Offices', 'local path' => "$a/data/alice/files/Offices", 'shared with' => 'all trusted devices', 'files' => '', 'conflicts' => '', 'state' => 'not running', 'devices' => [], 'all_devices' => true]], Nc::occJson($a, ['harp:folder:list']));

        $pa = Nc::daemon($a);
        $pb = Nc::daemon($b);
        $sa = Nc::occJson($a, ['harp:status']);
        $sb = Nc::occJson($b, ['harp:status']);
        $this->assertTrue($sa['running']);
        $this->assertNotSame($sa['device_id'], $sb['device_id']);

        // A trusts B with occ, at B's address; B trusts A from its admin settings after comparing IDs.
        [$code, $out] = Nc::occ($a, ['harp:trust', $sb['device_id'], $sb['listen']]);
        $this->assertSame(0, $code, $out);
        $this->assertStringContainsString("occ harp:trust {$sa['device_id']}", $out, 'tells what to run on the other side');
        $nb = Server::boot($b);
        $pairing = $nb->get(PairingController::class);
        $refused = $pairing->trust($sa['device_id'], '');
        $this->assertSame(400, $refused->getStatus(), 'no trust before the IDs were compared');
        $this->assertTrue($pairing->trust($sa['device_id'], '1')->getData()['ok']);

        // The write in Nextcloud A: the app's listener, in this process.
        $na = Server::boot($a);
        $bytes = random_bytes(300_000);
        $na->write('alice', '/Offices/plans/site.bin', $bytes);
        $onB = "$b/data/alice/files/Offices/plans/site.bin";
        Env::waitUntil(fn () => @file_get_contents($onB) === $bytes && isset($nb->cache('alice')['files/Offices/plans/site.bin']), 30, "A's write on B's disk and in B's file cache");
        $this->assertSame(300_000, $nb->cache('alice')['files/Offices/plans/site.bin']['size']);
        $this->assertArrayHasKey('files/Offices/plans', $nb->cache('alice'), 'the new parent folder is in the cache too');
        $this->assertContains(['call' => 'scanFile', 'storage' => 'home::alice', 'path' => 'files/Offices/plans/site.bin'], $nb->scannerCalls(), "B's daemon scanned exactly that path");

        // No echo: B's scan fired cache events, its listener notified, and the extension dropped it.
        $clientA = new Client($na->get(Config::class)->stateDir());
        $clientB = new Client($nb->get(Config::class)->stateDir());
        Env::waitUntil(fn () => $clientB->status()['changes'] >= 1, 10, "B's daemon to take its own listener's notify");
        sleep(1);
        $this->assertCount(1, $clientA->history('docs', 'plans/site.bin'), 'one version: nothing came back from B');
        $this->assertSame($clientA->status()['entries'], $clientB->status()['entries']);

        // The admin settings on A show B as a trusted, connected LAN peer, and the folder up to date.
        $state = $na->get(Admin::class)->state();
        $this->assertSame($sa['device_id'], $state['device_id']);
        $peer = array_values(array_filter($state['peers'], fn ($p) => $p['device_id'] === $sb['device_id']))[0];
        $this->assertSame(['LAN', true, true], [$peer['network'], $peer['trusted'], $peer['connected']]);
        $this->assertGreaterThan(0, $peer['rtt_ms']);
        $this->assertSame([['id' => 'docs', 'where' => 'alice: /Offices', 'files' => 1, 'conflicts' => 0, 'state' => 'up to date']], $state['folders']);
        $html = $na->get(Admin::class)->getForm()->render();
        $this->assertStringContainsString($sa['device_id'], $html);
        $this->assertStringContainsString($sb['device_id'], $html);

        // B's bytes arrived from a LAN peer: the WAN did not carry them.
        $this->assertGreaterThan(300_000, $nb->get(Admin::class)->state()['wan_bytes_saved']);

        // A delete in Nextcloud A leaves B's disk and B's file cache.
        $na->delete('alice', '/Offices/plans/site.bin');
        Env::waitUntil(fn () => !file_exists($onB) && !isset($nb->cache('alice')['files/Offices/plans/site.bin']), 20, 'the delete on B');

        // And back: a write on B reaches A.
        $nb->write('alice', '/Offices/from-b.txt', 'written in Nextcloud B');
        Env::waitUntil(fn () => @file_get_contents("$a/data/alice/files/Offices/from-b.txt") === 'written in Nextcloud B' && isset($na->cache('alice')['files/Offices/from-b.txt']), 20, "B's write in A");

        $verify = Nc::occJson($a, ['harp:verify']);
        $this->assertTrue($verify['docs']['ok']);
        [$code, $out] = Nc::occ($a, ['harp:peers']);
        $this->assertMatchesRegularExpression('/' . preg_quote($sb['device_id'], '/') . '.*yes.*yes.*LAN/', $out);

        // SIGTERM stops both daemons cleanly.
        foreach ([$pa, $pb] as $p) {
            $p->signal(SIGTERM);
            [$code, $out, $err] = $p->wait(30);
            $this->assertSame(0, $code, $err);
            $this->assertStringContainsString('harp:daemon: stopped', $out);
        }
        $this->assertSame([], array_filter([...$na->log(), ...$nb->log()], fn ($l) => $l['level'] === 'error'), 'nothing failed');
    }
}
