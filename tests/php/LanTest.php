<?php

declare(strict_types=1);

namespace Harp\Tests;

use PHPUnit\Framework\TestCase;

/**
 * Real multi-host tests: each node runs in a network namespace of its own,
 * on a bridge the test builds (a LAN), so mDNS and QUIC cross a real network.
 * All traffic stays inside namespaces this test created; they are removed
 * even when the test fails.
 */
final class LanTest extends TestCase
{
    private string $tag;
    /** @var list<string> */
    private array $namespaces = [];
    /** @var list<Process> */
    private array $procs = [];

    private static function sh(string $cmd): void
    {
        exec($cmd . ' 2>&1', $out, $rc);
        if ($rc !== 0) {
            throw new \RuntimeException("$cmd: " . implode("\n", $out));
        }
    }

    protected function setUp(): void
    {
        if (posix_geteuid() !== 0) {
            $this->markTestSkipped('network namespaces need root');
        }
        $this->tag = 'h' . bin2hex(random_bytes(3));
        $this->addNs('br');
        self::sh("ip netns exec {$this->tag}-br ip link add br0 type bridge");
        self::sh("ip netns exec {$this->tag}-br ip link set br0 up");
    }

    protected function tearDown(): void
    {
        foreach ($this->procs as $p) {
            $p->kill();
        }
        foreach (array_reverse($this->namespaces) as $ns) {
            exec('ip netns del ' . escapeshellarg($ns) . ' 2>&1');
        }
    }

    private function addNs(string $name): string
    {
        $ns = "{$this->tag}-$name";
        self::sh("ip netns add $ns");
        $this->namespaces[] = $ns;
        self::sh("ip netns exec $ns ip link set lo up");
        return $ns;
    }

    /** A host on the LAN bridge with address 10.213.0.$n/24. */
    private function host(string $name, int $n): string
    {
        $ns = $this->addNs($name);
        $v = "{$this->tag}$n";
        self::sh("ip link add $v type veth peer name {$v}p");
        self::sh("ip link set $v netns $ns");
        self::sh("ip link set {$v}p netns {$this->tag}-br");
        self::sh("ip netns exec {$this->tag}-br ip link set {$v}p master br0 up");
        self::sh("ip netns exec $ns ip addr add 10.213.0.$n/24 dev $v");
        self::sh("ip netns exec $ns ip link set $v up");
        return $ns;
    }

    /** Routes the LAN through the bridge namespace, as a router. */
    private function router(): string
    {
        $br = "{$this->tag}-br";
        self::sh("ip netns exec $br ip addr add 10.213.0.254/24 dev br0");
        self::sh("ip netns exec $br sysctl -q -w net.ipv4.ip_forward=1");
        return $br;
    }

    /** A LAN host that reaches the WAN through the router (call router() first). */
    private function routedHost(string $name, int $n): string
    {
        $ns = $this->host($name, $n);
        self::sh("ip netns exec $ns ip route add default via 10.213.0.254");
        return $ns;
    }

    /**
     * A host behind its own 10 Mbit/s WAN link (tbf both ways) to the
     * router, at 10.214.$n.1. Returns [namespace, router-side interface].
     */
    private function wanHost(string $name, int $n): array
    {
        $br = "{$this->tag}-br";
        $ns = $this->addNs($name);
        $wr = "{$this->tag}w{$n}r";
        $wc = "{$this->tag}w{$n}c";
        self::sh("ip link add $wr type veth peer name $wc");
        self::sh("ip link set $wr netns $br");
        self::sh("ip link set $wc netns $ns");
        self::sh("ip netns exec $br ip addr add 10.214.$n.254/24 dev $wr");
        self::sh("ip netns exec $br ip link set $wr up");
        self::sh("ip netns exec $ns ip addr add 10.214.$n.1/24 dev $wc");
        self::sh("ip netns exec $ns ip link set $wc up");
        self::sh("ip netns exec $ns ip route add default via 10.214.$n.254");
        foreach ([[$br, $wr], [$ns, $wc]] as [$n2, $dev]) {
            self::sh("ip netns exec $n2 tc qdisc add dev $dev root tbf rate 10mbit burst 32kbit latency 400ms");
        }
        return [$ns, $wr];
    }

    private function wanBytes(string $wr): int
    {
        $br = "{$this->tag}-br";
        $n = 0;
        foreach (['tx_bytes', 'rx_bytes'] as $f) {
            $n += (int) trim((string) shell_exec("ip netns exec $br cat /sys/class/net/$wr/statistics/$f"));
        }
        return $n;
    }

    /** @return array{0: array<string,string>, 1: array<string,string>} state dirs and device IDs */
    private function nodes(array $names): array
    {
        $dirs = [];
        $ids = [];
        foreach ($names as $n) {
            $dirs[$n] = Env::tempDir();
            mkdir("{$dirs[$n]}/docs");
            $node = new \Harp\Node("{$dirs[$n]}/state");
            $ids[$n] = $node->deviceId();
            $node->addFolder('docs', "{$dirs[$n]}/docs");
            unset($node);
        }
        return [$dirs, $ids];
    }

    /** Device $who trusts device $whom, at $addrs if given. */
    private function trust(array $dirs, array $ids, string $who, string $whom, array $addrs = []): void
    {
        (new \Harp\Node("{$dirs[$who]}/state"))->trust($ids[$whom], $addrs);
    }

    private static function bigFile(string $path, int $mib): void
    {
        $fh = fopen($path, 'wb');
        for ($i = 0; $i < $mib; $i++) {
            fwrite($fh, random_bytes(1024 * 1024));
        }
        fclose($fh);
    }

    private function serve(string $ns, string $state, string $name): Process
    {
        $p = Process::start(['ip', 'netns', 'exec', $ns, ...Env::php(), '-d', 'harp.mdns=1', '-d', 'harp.listen=0.0.0.0:4433',
            Env::root() . '/bin/harp', 'serve', '--state-dir', $state, '--name', $name]);
        $this->procs[] = $p;
        Env::waitUntil(fn () => str_contains($p->stdout(), 'serving') || !$p->running(), 30, "$name to start");
        $this->assertTrue($p->running(), $p->stderr());
        return $p;
    }

    public function testTwoLanNodesFindEachOtherByMdnsAndSyncWhileAnUntrustedOneGetsNothing(): void
    {
        $nsa = $this->host('a', 1);
        $nsb = $this->host('b', 2);
        $nsx = $this->host('x', 3);
        [$dirs, $ids] = $this->nodes(['a', 'b', 'x']);
        // Trust by ID only: no address is given; mDNS finds the way.
        $this->trust($dirs, $ids, 'a', 'b');
        $this->trust($dirs, $ids, 'b', 'a');
        $this->trust($dirs, $ids, 'x', 'a'); // X trusts A, but A does not trust X

        $this->serve($nsa, "{$dirs['a']}/state", 'lan-a');
        $this->serve($nsb, "{$dirs['b']}/state", 'lan-b');
        $this->serve($nsx, "{$dirs['x']}/state", 'lan-x');
        $a = new \Harp\Client("{$dirs['a']}/state");
        $b = new \Harp\Client("{$dirs['b']}/state");
        $x = new \Harp\Client("{$dirs['x']}/state");

        $peer = function (\Harp\Client $c, string $id): ?array {
            foreach ($c->peers() as $p) {
                if ($p['device_id'] === $id) {
                    return $p;
                }
            }
            return null;
        };
        // Connected, and known as a LAN peer (found by mDNS on this link).
        Env::waitUntil(fn () => ($peer($a, $ids['b'])['connected'] ?? false) && ($peer($a, $ids['b'])['lan'] ?? false), 30, 'A and B to meet by mDNS');
        $this->assertSame('10.213.0.2:4433', $peer($a, $ids['b'])['remote']);
        $this->assertTrue($peer($a, $ids['b'])['lan']);

        file_put_contents("{$dirs['a']}/docs/plan.txt", 'from office a');
        $a->notify('docs', 'plan.txt');
        file_put_contents("{$dirs['b']}/docs/budget.txt", 'from office b');
        $b->notify('docs', 'budget.txt');
        Env::waitUntil(fn () => @file_get_contents("{$dirs['b']}/docs/plan.txt") === 'from office a'
            && @file_get_contents("{$dirs['a']}/docs/budget.txt") === 'from office b', 20, 'both ways');

        // The untrusted X is seen on the LAN, never connected, and receives nothing.
        Env::waitUntil(fn () => $peer($a, $ids['x']) !== null, 20, 'A to list X');
        $px = $peer($a, $ids['x']);
        $this->assertFalse($px['trusted']);
        $this->assertFalse($px['connected']);
        $this->assertSame(['10.213.0.3:4433'], $px['discovered']);
        sleep(2);
        $this->assertSame([], array_values(array_diff(scandir("{$dirs['x']}/docs"), ['.', '..'])), 'X got no file');
        $this->assertSame(0, $x->status()['entries'], 'X got no entry');
        $this->assertFalse($peer($x, $ids['a'])['connected'] ?? false);
    }

    /**
     * The office: cloud node C behind a 10 Mbit/s WAN (tbf both ways); A and
     * B on one LAN. A 50 MiB file added at C reaches A and B, the WAN
     * carries it once, and B has it within LAN time of A.
     */
    public function testTheOfficeGetsAFileFromTheCloudOverTheWanOnce(): void
    {
        $this->router();
        $nsa = $this->routedHost('a', 1);
        $nsb = $this->routedHost('b', 2);
        [$nsc, $wr] = $this->wanHost('c', 1);
        [$dirs, $ids] = $this->nodes(['a', 'b', 'c']);
        $this->trust($dirs, $ids, 'a', 'b');
        $this->trust($dirs, $ids, 'b', 'a');
        $this->trust($dirs, $ids, 'a', 'c', ['10.214.1.1:4433']);
        $this->trust($dirs, $ids, 'b', 'c', ['10.214.1.1:4433']);
        $this->trust($dirs, $ids, 'c', 'a');
        $this->trust($dirs, $ids, 'c', 'b');
        $this->serve($nsa, "{$dirs['a']}/state", 'office-a');
        $this->serve($nsb, "{$dirs['b']}/state", 'office-b');
        $this->serve($nsc, "{$dirs['c']}/state", 'cloud');
        $a = new \Harp\Client("{$dirs['a']}/state");
        $connected = function (\Harp\Client $c, array $want) {
            $up = array_column(array_filter($c->peers(), fn ($p) => $p['connected']), 'device_id');
            return !array_diff($want, $up);
        };
        Env::waitUntil(fn () => $connected($a, [$ids['b'], $ids['c']]) && $connected(new \Harp\Client("{$dirs['b']}/state"), [$ids['a'], $ids['c']]), 30, 'the three to connect');

        $size = 50 * 1024 * 1024;
        $file = "{$dirs['c']}/docs/dataset.bin";
        self::bigFile($file, 50);
        $wan0 = $this->wanBytes($wr);
        $t0 = microtime(true);
        (new \Harp\Client("{$dirs['c']}/state"))->notify('docs', 'dataset.bin');
        $done = fn ($n) => @filesize("{$dirs[$n]}/docs/dataset.bin") === $size;
        $ta = $tb = null;
        Env::waitUntil(function () use ($done, &$ta, &$tb, $t0) {
            if ($ta === null && $done('a')) {
                $ta = microtime(true) - $t0;
            }
            if ($tb === null && $done('b')) {
                $tb = microtime(true) - $t0;
            }
            return $ta !== null && $tb !== null;
        }, 240, 'A and B to have the file');
        $wan = $this->wanBytes($wr) - $wan0;
        $hash = hash_file('sha256', $file);
        $this->assertSame($hash, hash_file('sha256', "{$dirs['a']}/docs/dataset.bin"));
        $this->assertSame($hash, hash_file('sha256', "{$dirs['b']}/docs/dataset.bin"));
        measure('office: WAN bytes for a 50 MiB file', $wan, 'bytes');
        measure('office: WAN bytes / file size', round($wan / $size, 3), 'ratio');
        measure('office: time until A has it', round($ta, 2), 's');
        measure('office: time until B has it', round($tb, 2), 's');
        $this->assertLessThanOrEqual(1.1 * $size, $wan, 'the WAN carried the file once');
        $this->assertLessThan(10, abs($tb - $ta), 'the second office device got it in LAN time, not WAN time');
    }

    public function testAReceiverKilledMidTransferResumesWithoutRefetchingVerifiedChunks(): void
    {
        $this->router();
        $nsb = $this->routedHost('b', 2);
        [$nsc, $wr] = $this->wanHost('c', 1);
        [$dirs, $ids] = $this->nodes(['b', 'c']);
        $this->trust($dirs, $ids, 'b', 'c', ['10.214.1.1:4433']);
        $this->trust($dirs, $ids, 'c', 'b');
        $this->serve($nsc, "{$dirs['c']}/state", 'cloud');
        $pb = $this->serve($nsb, "{$dirs['b']}/state", 'office');
        $b = new \Harp\Client("{$dirs['b']}/state");
        $size = 16 * 1024 * 1024;
        self::bigFile("{$dirs['c']}/docs/big.bin", 16);
        $wan0 = $this->wanBytes($wr);
        (new \Harp\Client("{$dirs['c']}/state"))->notify('docs', 'big.bin');
        // Kill the receiver with SIGKILL once about half has arrived.
        Env::waitUntil(fn () => ($b->status()['transfers'][0]['bytes_done'] ?? 0) > $size / 2, 60, 'half of the file');
        $pb->kill();
        $this->assertFalse(file_exists("{$dirs['b']}/docs/big.bin"), 'no half-written file appears');
        $this->serve($nsb, "{$dirs['b']}/state", 'office');
        Env::waitUntil(fn () => @filesize("{$dirs['b']}/docs/big.bin") === $size, 90, 'the file to complete after the restart');
        $this->assertSame(hash_file('sha256', "{$dirs['c']}/docs/big.bin"), hash_file('sha256', "{$dirs['b']}/docs/big.bin"));
        $wan = $this->wanBytes($wr) - $wan0;
        measure('resume after SIGKILL: WAN bytes / file size', round($wan / $size, 3), 'ratio');
        $this->assertLessThan(1.15 * $size, $wan, 'verified chunks were not fetched again');
        $this->assertSame([], glob("{$dirs['b']}/docs/.harp-tmp-*"));
    }

    public function testWhenASenderVanishesMidTransferAnotherPeerFinishesTheFile(): void
    {
        $this->router();
        $nsd = $this->routedHost('d', 4);
        [$ns1] = $this->wanHost('c1', 1);
        [$ns2] = $this->wanHost('c2', 2);
        [$dirs, $ids] = $this->nodes(['c1', 'c2', 'd']);
        $this->trust($dirs, $ids, 'c1', 'd');
        $this->trust($dirs, $ids, 'c2', 'd');
        $this->trust($dirs, $ids, 'c1', 'c2', ['10.214.2.1:4433']);
        $this->trust($dirs, $ids, 'c2', 'c1', ['10.214.1.1:4433']);
        $this->trust($dirs, $ids, 'd', 'c1', ['10.214.1.1:4433']);
        $this->trust($dirs, $ids, 'd', 'c2', ['10.214.2.1:4433']);
        // Both senders hold the file before D connects to anyone.
        $size = 12 * 1024 * 1024;
        self::bigFile("{$dirs['c1']}/docs/shared.bin", 12);
        copy("{$dirs['c1']}/docs/shared.bin", "{$dirs['c2']}/docs/shared.bin");
        touch("{$dirs['c2']}/docs/shared.bin", filemtime("{$dirs['c1']}/docs/shared.bin"));
        $p1 = $this->serve($ns1, "{$dirs['c1']}/state", 'c1');
        $p2 = $this->serve($ns2, "{$dirs['c2']}/state", 'c2');
        (new \Harp\Client("{$dirs['c1']}/state"))->scan('docs');
        (new \Harp\Client("{$dirs['c2']}/state"))->scan('docs');
        $this->serve($nsd, "{$dirs['d']}/state", 'd');
        $d = new \Harp\Client("{$dirs['d']}/state");
        Env::waitUntil(fn () => ($d->status()['transfers'][0]['bytes_done'] ?? 0) > $size / 4, 60, 'a quarter of the file');
        // Stop whichever sender D is taking the file from.
        $from = array_column($d->peers(), 'bytes_in', 'device_id');
        arsort($from);
        $busy = array_key_first($from);
        $sources = $d->status()['transfers'][0]['sources'] ?? [];
        $this->assertContains($busy, $sources, 'status() names the peer the file comes from');
        $this->assertSame([], array_values(array_diff($sources, [$ids['c1'], $ids['c2']])), 'and no other');
        ($busy === $ids['c1'] ? $p1 : $p2)->kill();
        Env::waitUntil(fn () => @filesize("{$dirs['d']}/docs/shared.bin") === $size, 90, 'the other sender to finish the file');
        $this->assertSame(hash_file('sha256', "{$dirs['c1']}/docs/shared.bin"), hash_file('sha256', "{$dirs['d']}/docs/shared.bin"));
    }
}
