<?php

declare(strict_types=1);

namespace Harp\Tests;

use Harp\Client;
use PHPUnit\Framework\TestCase;

/** QUIC with mutual TLS on loopback: trust, refusal in the handshake, untrust. */
final class NetTest extends TestCase
{
    /** @return array{0: Owner, 1: Client, 2: string, 3: string} owner, client, device id, address */
    private function node(string $name): array
    {
        $dir = Env::tempDir();
        // Loopback only, no mDNS: tests on this machine's own network send
        // nothing beyond 127.0.0.1 (mDNS is tested in network namespaces).
        $p = Process::start([...Env::php(), Env::root() . '/bin/harp', 'serve', '--state-dir', $dir, '--name', $name, '--no-mdns', '--listen', '127.0.0.1:0']);
        Env::waitUntil(fn () => str_contains($p->stdout(), 'serving') || !$p->running(), 30, "$name to start");
        $this->assertTrue($p->running(), $p->stderr());
        $c = new Client($dir);
        $s = $c->status();
        return [$p, $c, $s['device_id'], $s['listen']];
    }

    private function peer(Client $c, string $id): ?array
    {
        foreach ($c->peers() as $p) {
            if ($p['device_id'] === $id) {
                return $p;
            }
        }
        return null;
    }

    public function testTrustedNodesConnectAndUntrustDropsTheConnection(): void
    {
        [$pa, $a, $ida, $addra] = $this->node('office-a');
        [$pb, $b, $idb, $addrb] = $this->node('office-b');
        $b->trust($ida);                 // B accepts A
        $a->trust($idb, [$addrb]);       // A dials B at its static address
        Env::waitUntil(fn () => ($this->peer($a, $idb)['connected'] ?? false) && ($this->peer($b, $ida)['connected'] ?? false), 15, 'A and B to connect');
        Env::waitUntil(fn () => $this->peer($a, $idb)['name'] === 'office-b' && $this->peer($b, $ida)['name'] === 'office-a', 10, 'the hellos');
        $pab = $this->peer($a, $idb);
        $this->assertTrue($pab['trusted']);
        $this->assertTrue($pab['lan']);
        $this->assertSame($addrb, $pab['remote']);
        $this->assertGreaterThan(0, $pab['rtt_ms']);
        $this->assertGreaterThan(0, $pab['bytes_in']);
        $this->assertCount(1, $a->status()['peers']);

        // B stops trusting A: the live connection drops, and A's redials fail in the handshake.
        $b->untrust($ida);
        Env::waitUntil(fn () => !$this->peer($a, $idb)['connected'], 10, 'the connection to drop');
        sleep(2);
        $this->assertFalse($this->peer($a, $idb)['connected'], 'A cannot get back in');
        $this->assertFalse($this->peer($b, $ida)['trusted']);
        $this->assertNotNull($this->peer($a, $idb)['last_error']);
        $pa->signal(15);
        $pb->signal(15);
        $this->assertStringContainsString('peer_found', $pa->wait(20)[1]);
        $pb->wait(20);
    }

    public function testEntriesAreExchangedOnConnectAndPushedTheMomentTheyExist(): void
    {
        [$pa, $a, $ida, $addra] = $this->node('a');
        [$pb, $b, $idb, $addrb] = $this->node('b');
        $docs = Env::tempDir();
        file_put_contents("$docs/before.txt", 'made before the peers met');
        $a->addFolder('docs', $docs);
        $a->scan('docs');
        $this->assertSame(1, $a->status()['entries']);
        // B takes entries only of a folder it has (shared with A: every trusted device).
        $b->addFolder('docs', Env::tempDir());

        $b->trust($ida);
        $a->trust($idb, [$addrb]);
        // On connect: B gets the entry A made while they were apart.
        Env::waitUntil(fn () => count($b->history('docs', 'before.txt')) === 1, 15, 'the old entry to reach B');
        $h = $b->history('docs', 'before.txt')[0];
        $this->assertSame([$ida, 'write', 25], [$h['author'], $h['kind'], $h['size']]);
        $this->assertSame($a->history('docs', 'before.txt')[0]['entry'], $h['entry'], 'the same signed entry');

        // Live: a notify on A reaches B with no polling interval.
        file_put_contents("$docs/live.txt", 'now');
        $t = microtime(true);
        $a->notify('docs', 'live.txt');
        Env::waitUntil(fn () => count($b->history('docs', 'live.txt')) === 1, 10, 'the live entry to reach B');
        $this->assertLessThan(2.0, microtime(true) - $t);
        $this->assertSame(2, $b->status()['entries']);
        foreach ([$pa, $pb] as $p) {
            $p->signal(15);
            $p->wait(20);
        }
    }

    public function testFilesSyncBothWaysWritesRenamesAndDeletes(): void
    {
        [$pa, $a, $ida] = $this->node('a');
        [$pb, $b, $idb, $addrb] = $this->node('b');
        $da = Env::tempDir();
        $db = Env::tempDir();
        mkdir("$da/sub");
        file_put_contents("$da/sub/report.bin", $big = random_bytes(700_000));
        file_put_contents("$da/small.txt", 'hello from a');
        $a->addFolder('docs', $da);
        $b->addFolder('docs', $db);
        $a->scan('docs');
        $b->trust($ida);
        $a->trust($idb, [$addrb]);
        Env::waitUntil(fn () => @file_get_contents("$db/sub/report.bin") === $big && @file_get_contents("$db/small.txt") === 'hello from a', 20, 'A\'s files on B');
        $this->assertSame(filemtime("$da/sub/report.bin"), filemtime("$db/sub/report.bin"), 'mtime carried over');
        $this->assertSame([], glob("$db/sub/.harp-tmp-*"), 'no temporary file left');

        // B's hook sees B's own applied write: no echo entry.
        $entries = $b->status()['entries'];
        $b->notify('docs', 'small.txt');
        usleep(500_000);
        $this->assertSame($entries, $b->status()['entries'], 'applying a file never echoes back');

        // B writes, renames and deletes; A follows.
        file_put_contents("$db/from-b.txt", 'written on b');
        $b->notify('docs', 'from-b.txt');
        Env::waitUntil(fn () => @file_get_contents("$da/from-b.txt") === 'written on b', 15, 'B\'s new file on A');
        rename("$db/small.txt", "$db/renamed.txt");
        $b->notify('docs', 'renamed.txt', 'rename', 'small.txt');
        Env::waitUntil(fn () => @file_get_contents("$da/renamed.txt") === 'hello from a' && !file_exists("$da/small.txt"), 15, 'the rename on A');
        unlink("$db/sub/report.bin");
        $b->notify('docs', 'sub/report.bin', 'delete');
        Env::waitUntil(fn () => !file_exists("$da/sub/report.bin"), 15, 'the delete on A');
        $this->assertTrue($a->verify('docs')['ok']);
        $this->assertTrue($b->verify('docs')['ok']);
        foreach ([$pa, $pb] as $p) {
            $p->signal(15);
            $p->wait(20);
        }
        $this->assertStringContainsString('file_updated', $pb->stdout());
    }

    public function testWithThePlaceGateAFileGoesIntoPlaceOnlyOnceTheApplicationSaysSo(): void
    {
        [$pa, $a, $ida] = $this->node('a');
        $db = Env::tempDir();
        $b = new \Harp\Node(Env::tempDir(), ['listen' => '127.0.0.1:0', 'mdns' => false, 'name' => 'b', 'place_gate' => true]);
        $b->addFolder('docs', $db);
        $b->start();
        $da = Env::tempDir();
        file_put_contents("$da/doc.txt", 'from a');
        $a->addFolder('docs', $da);
        $a->scan('docs');
        $b->trust($ida);
        $a->trust($b->deviceId(), [$b->status()['listen']]);
        /** The next event of $kind for doc.txt, within 30 s. */
        $next = function (string $kind) use ($b): \Harp\Event {
            $until = microtime(true) + 30;
            while (microtime(true) < $until) {
                $ev = $b->poll(200);
                if ($ev !== null && $ev->kind === $kind && $ev->path === 'doc.txt') {
                    return $ev;
                }
            }
            $this->fail("no $kind event for doc.txt");
        };
        try {
            // The application says no (its own lock is held): nothing is written, and the node asks again.
            $first = $next('place');
            $this->assertSame('docs', $first->folderId);
            $b->placeAnswer($first->seq, false);
            $again = $next('place');
            $this->assertGreaterThan($first->seq, $again->seq, 'asked again, with a new token');
            $this->assertFileDoesNotExist("$db/doc.txt", 'not written while the answer was no');
            try {
                $b->placeAnswer($first->seq, true);
                $this->fail('an answered token was accepted twice');
            } catch (\Harp\Exception\HarpException $e) {
                $this->assertStringContainsString("no place request {$first->seq} is waiting", $e->getMessage());
            }
            // Yes: in place, then `placed` with the same token, then file_updated.
            $b->placeAnswer($again->seq, true);
            $placed = $next('placed');
            $this->assertSame($again->seq, $placed->seq);
            $this->assertSame('from a', file_get_contents("$db/doc.txt"));
            $next('file_updated');
        } finally {
            $b->stop();
            $pa->signal(15);
            $pa->wait(20);
        }
    }

    public function testConcurrentEditsConvergeWithAConflictCopyAndNoVersionLost(): void
    {
        [$pa, $a, $ida] = $this->node('a');
        [$pb, $b, $idb, $addrb] = $this->node('b');
        $da = Env::tempDir();
        $db = Env::tempDir();
        $a->addFolder('docs', $da);
        $b->addFolder('docs', $db);
        // Both edit budget.ods while apart; B's edit is later, so B wins. (The
        // copy's name sorts after the file's: the loser's bytes must be copied
        // before the winner overwrites them.)
        file_put_contents("$da/budget.ods", 'version from A');
        touch("$da/budget.ods", 1_700_000_000);
        file_put_contents("$db/budget.ods", 'version from B');
        touch("$db/budget.ods", 1_700_000_100);
        $a->scan('docs');
        $b->scan('docs');
        $b->trust($ida);
        $a->trust($idb, [$addrb]);
        $copies = fn ($d) => glob("$d/budget.sync-conflict-*.ods");
        Env::waitUntil(fn () => count($copies($da)) === 1 && count($copies($db)) === 1
            && file_get_contents("$da/budget.ods") === 'version from B', 20, 'the conflict to resolve on both');
        $this->assertSame('version from B', file_get_contents("$db/budget.ods"));
        $this->assertSame(basename($copies($da)[0]), basename($copies($db)[0]), 'the same copy name everywhere');
        $this->assertSame('version from A', file_get_contents($copies($da)[0]));
        $this->assertSame('version from A', file_get_contents($copies($db)[0]));
        $this->assertMatchesRegularExpression('/^budget\.sync-conflict-20231114-2213\d\d-[A-Z2-7]{7}\.ods$/', basename($copies($da)[0]));
        // The copy is an entry of its own, so it outlives the conflict.
        Env::waitUntil(fn () => count($a->history('docs', basename($copies($da)[0]))) >= 1, 10, 'the copy\'s entry');
        // The node that recorded it said so in a `conflict` event naming the copy.
        $copy = basename($copies($da)[0]);
        Env::waitUntil(fn () => str_contains($pa->stdout() . $pb->stdout(), "docs/$copy"), 10, 'the conflict event');
        $this->assertMatchesRegularExpression('/ conflict +docs\/' . preg_quote($copy, '/') . '$/m', $pa->stdout() . $pb->stdout());
        foreach ([$pa, $pb] as $p) {
            $p->signal(15);
            $p->wait(20);
        }
    }

    public function testAnUntrustedDeviceIsRefusedInTheHandshakeEitherWay(): void
    {
        [$pa, $a, $ida] = $this->node('a');
        [$pb, $b, $idb, $addrb] = $this->node('b');
        [$pc, $c, $idc, $addrc] = $this->node('c');
        // A trusts B, but B does not trust A: B's server refuses A's certificate.
        $a->trust($idb, [$addrb]);
        // A trusts C's ID at B's address: B is trusted by nobody here as C, and
        // A's client refuses a server that is not the device it dialled.
        $c->trust($ida);
        $a->trust($idc, [$addrb]);
        Env::waitUntil(fn () => $this->peer($a, $idb)['last_error'] !== null && $this->peer($a, $idc)['last_error'] !== null, 15, 'both dials to fail');
        // A TLS 1.3 client finishes its handshake before the server has
        // checked its certificate: A must still never count B as connected.
        $seen = false;
        for ($until = microtime(true) + 2; microtime(true) < $until; usleep(10_000)) {
            $seen = $seen || $this->peer($a, $idb)['connected'] || $this->peer($a, $idc)['connected'];
        }
        $this->assertFalse($seen, 'A counted a device that refused it as connected');
        $this->assertFalse($this->peer($a, $idb)['connected']);
        $this->assertFalse($this->peer($a, $idc)['connected']);
        $this->assertNull($this->peer($b, $ida), 'B never admitted A');
        $this->assertStringContainsString('refused', $pb->stderr() . $this->peer($a, $idb)['last_error']);
        $this->assertMatchesRegularExpression('/NotValidForName|certificate/i', $this->peer($a, $idc)['last_error']);
        foreach ([$pa, $pb, $pc] as $p) {
            $p->signal(15);
            $p->wait(20);
        }
    }

    public function testTrustIsKeptAcrossRestartsAndBadIdsAreRefused(): void
    {
        $dir = Env::tempDir();
        $other = (new \Harp\Node(Env::tempDir()))->deviceId();
        $n = new \Harp\Node($dir, ['listen' => '127.0.0.1:0']);
        $n->trust($other, ['127.0.0.1:9']);
        try {
            $n->trust(substr($other, 0, -1) . (str_ends_with($other, 'A') ? 'B' : 'A'));
            $this->fail('a mistyped device ID was accepted');
        } catch (\Harp\Exception\ConfigException $e) {
            $this->assertStringContainsString('mistyped', $e->getMessage());
        }
        try {
            $n->trust($n->deviceId());
            $this->fail('trusting oneself was accepted');
        } catch (\Harp\Exception\ConfigException $e) {
            $this->assertStringContainsString('own ID', $e->getMessage());
        }
        unset($n);
        $n = new \Harp\Node($dir);
        $peers = $n->peers();
        $this->assertSame([[$other, true, ['127.0.0.1:9']]], array_map(fn ($p) => [$p['device_id'], $p['trusted'], $p['addresses']], $peers));
        $n->untrust($other);
        unset($n);
        $this->assertSame(false, (new \Harp\Node($dir))->peers()[0]['trusted'] ?? false);
    }
}
