<?php

declare(strict_types=1);

namespace Harp\Tests;

use Harp\Client;
use PHPUnit\Framework\TestCase;

/**
 * Two devices over loopback edit one file 1,000 times, taking turns, as fast
 * as their hooks allow (each device's edit is recorded by its own owner
 * before that device edits again; the other device's sync runs freely in
 * between, so most edits are concurrent with one in flight).
 *
 * What Harp guarantees, and what this checks: both converge to the same
 * file and the same conflict copies; every version a device recorded is an
 * entry in both devices' history(); a version that lost a conflict is kept
 * as a `*.sync-conflict-*` copy unless a later version by the same device
 * superseded it (a version its own author replaced is history, not a
 * conflict). Each version has a distinct size, which identifies it in
 * history().
 */
final class ConcurrencyTest extends TestCase
{
    /** @var list<Process> */
    private array $procs = [];

    protected function tearDown(): void
    {
        foreach ($this->procs as $p) {
            $p->kill();
        }
    }

    /** @return array{0: Process, 1: Client, 2: string, 3: string} */
    private function node(string $name, string $state): array
    {
        $p = Process::start([...Env::php(), Env::root() . '/bin/harp', 'serve', '--state-dir', $state, '--name', $name, '--no-mdns', '--listen', '127.0.0.1:0', '--quiet']);
        $this->procs[] = $p;
        Env::waitUntil(fn () => str_contains($p->stdout(), 'serving') || !$p->running(), 30, "$name to start");
        $this->assertTrue($p->running(), $p->stderr());
        $c = new Client($state);
        $s = $c->status();
        return [$p, $c, $s['device_id'], $s['listen']];
    }

    private static function content(int $i): string
    {
        return str_pad("version $i ", 100 + $i, '.');
    }

    public function testAThousandInterleavedEditsOfOneFileConvergeAndNoRecordedVersionIsLost(): void
    {
        $t0 = microtime(true);
        $edits = (int) (getenv('HARP_CONCURRENT_EDITS') ?: 1000);
        $ra = Env::tempDir();
        $rb = Env::tempDir();
        [$pa, $a, $ida] = $this->node('a', "$ra/state");
        [$pb, $b, $idb, $addrb] = $this->node('b', "$rb/state");
        $a->addFolder('docs', "$ra/docs");
        $b->addFolder('docs', "$rb/docs");
        $b->trust($ida);
        $a->trust($idb, [$addrb]);
        $connected = fn (Client $c, string $id) => in_array($id, array_column(array_filter($c->peers(), fn ($p) => $p['connected']), 'device_id'), true);
        Env::waitUntil(fn () => $connected($a, $idb) && $connected($b, $ida), 15, 'A and B to connect');

        $dev = [0 => [$a, "$ra/docs"], 1 => [$b, "$rb/docs"]];
        $sent = [0, 0];
        $clobbered = 0;
        for ($i = 0; $i < $edits; $i++) {
            [$c, $dir] = $dev[$i % 2];
            file_put_contents("$dir/doc.txt", self::content($i));
            $c->notify('docs', 'doc.txt');
            $sent[$i % 2]++;
            $n = $sent[$i % 2];
            Env::waitUntil(fn () => $c->status()['changes'] >= $n, 10, "edit $i to be recorded");
        }
        $editTime = microtime(true) - $t0;

        // Converged: the same bytes at the same paths on both sides, and quiet.
        $snapshot = function (string $dir): array {
            $out = [];
            foreach (glob("$dir/doc*.txt") ?: [] as $f) {
                $out[basename($f)] = (string) @file_get_contents($f);
            }
            ksort($out);
            return $out;
        };
        // Convergence, not speed, is what this asserts (the benchmark
        // measures speed): a device whose old connection has not timed out
        // yet (30 s) or a retry on the 60 s full pass may take its time.
        $last = null;
        $stableSince = microtime(true);
        Env::waitUntil(function () use ($a, $b, $snapshot, $ra, $rb, &$last, &$stableSince) {
            $now = [$snapshot("$ra/docs"), $snapshot("$rb/docs"), $a->status()['entries'], $b->status()['entries']];
            if ($now !== $last) {
                $last = $now;
                $stableSince = microtime(true);
                return false;
            }
            return $now[0] === $now[1] && $now[2] === $now[3] && microtime(true) - $stableSince > 2
                && $a->status()['transfers'] === [] && $b->status()['transfers'] === [];
        }, 240, 'A and B to converge');
        $files = $snapshot("$ra/docs");
        $this->assertSame($files, $snapshot("$rb/docs"), 'both devices hold the same file and copies');
        // (A download given up because its source moved on to a newer
        // version may leave a .harp-tmp-* file behind; not checked here.)
        $tmps = count(glob("$ra/docs/.harp-tmp-*") ?: []) + count(glob("$rb/docs/.harp-tmp-*") ?: []);

        // Which version each size is, in each device's history.
        $sizes = function (Client $c): array {
            $n = array_count_values(array_column($c->history('docs', 'doc.txt'), 'size'));
            ksort($n); // concurrent entries may be listed in another order on each device
            return $n;
        };
        $ha = $sizes($a);
        $hb = $sizes($b);
        $this->assertSame($ha, $hb, 'the same history on both devices');
        $onDisk = [];
        foreach ($files as $name => $bytes) {
            if (preg_match('/^version (\d+) /', $bytes, $m)) {
                $onDisk[(int) $m[1]] = $name;
            }
        }
        $inHistory = 0;
        $missing = [];
        for ($i = 0; $i < $edits; $i++) {
            if (isset($ha[100 + $i])) {
                $inHistory++;
            } elseif (!isset($onDisk[$i])) {
                $missing[] = $i;
            }
        }
        $copies = count($files) - 1;
        measure('concurrency: edits (2 devices, 1 file, interleaved)', $edits, 'edits');
        measure('concurrency: versions in history() on both', $inHistory, 'versions');
        measure('concurrency: conflict copies on both', $copies, 'files');
        measure('concurrency: versions neither in history nor on disk', count($missing), 'versions');
        measure('concurrency: temporary files left over', $tmps, 'files');
        measure('concurrency: edit phase', round($editTime, 1), 's');
        measure('concurrency: test time', round(microtime(true) - $t0, 1), 's');
        $this->assertSame([], $missing, 'versions lost: ' . implode(',', array_slice($missing, 0, 20)));
        $this->assertTrue($a->verify('docs')['ok']);
        $this->assertTrue($b->verify('docs')['ok']);
        foreach ([$pa, $pb] as $p) {
            $p->signal(15);
            $p->wait(20);
        }
    }
}
