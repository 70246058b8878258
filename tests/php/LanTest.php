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
        $dirs = [];
        $ids = [];
        foreach (['a', 'b', 'x'] as $n) {
            $dirs[$n] = Env::tempDir();
            $ids[$n] = (new \Harp\Node("{$dirs[$n]}/state"))->deviceId();
            mkdir("{$dirs[$n]}/docs");
        }
        // Trust by ID only: no address is given; mDNS finds the way.
        $na = new \Harp\Node("{$dirs['a']}/state");
        $na->trust($ids['b']);
        $na->addFolder('docs', "{$dirs['a']}/docs");
        unset($na);
        $nb = new \Harp\Node("{$dirs['b']}/state");
        $nb->trust($ids['a']);
        $nb->addFolder('docs', "{$dirs['b']}/docs");
        unset($nb);
        $nx = new \Harp\Node("{$dirs['x']}/state");
        $nx->trust($ids['a']);       // X trusts A, but A does not trust X
        $nx->addFolder('docs', "{$dirs['x']}/docs");
        unset($nx);

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
        Env::waitUntil(fn () => ($peer($a, $ids['b'])['connected'] ?? false), 30, 'A and B to meet by mDNS');
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
}
