<?php

declare(strict_types=1);

namespace Harp\Tests;

use Harp\Client;
use PHPUnit\Framework\TestCase;

/**
 * Harp under faults: SIGKILL of the owner while it commits or applies, a
 * full disk, a read-only state directory, too few file descriptors.
 *
 * The disk faults use a small tmpfs mounted in a private mount namespace
 * (`unshare --mount`): the owner runs inside it, and the test reaches it with
 * `nsenter`. The mount goes away with the namespace, so nothing is left
 * mounted even when a test fails. Needs root.
 */
final class FaultTest extends TestCase
{
    /** @var list<Process> */
    private array $procs = [];

    protected function tearDown(): void
    {
        foreach ($this->procs as $p) {
            $p->kill();
        }
        $this->procs = [];
    }

    private function track(Process $p): Process
    {
        $this->procs[] = $p;
        return $p;
    }

    private static function needRoot(TestCase $t): void
    {
        if (posix_geteuid() !== 0) {
            $t->markTestSkipped('mount namespaces and tmpfs need root');
        }
    }

    /** Maps folder $id to $path in the state directory, with no owner running. */
    private static function addFolder(string $state, string $id, string $path): string
    {
        $n = new \Harp\Node($state, ['listen' => '127.0.0.1:0']);
        $n->addFolder($id, $path);
        $dev = $n->deviceId();
        unset($n);
        return $dev;
    }

    /**
     * Starts the owner, reads and verifies the state directory once no one
     * else owns it: the changes recorded (paths) and verify's report.
     * @return array{paths: list<string>, verify: array, entries: int}
     */
    private static function inspect(string $state, string $folder): array
    {
        [$code, $out, $err] = Env::runPhp(<<<'PHP'
            $n = new Harp\Node($argv[1], ['listen' => '127.0.0.1:0']);
            $n->start();
            $n->stop();
            $paths = [];
            $after = 0;
            while ($page = $n->changes($after, 5000)) {
                foreach ($page as $c) { $paths[] = $c['path']; }
                $after = end($page)['seq'];
            }
            echo json_encode(['paths' => $paths, 'verify' => $n->verify($argv[2]), 'entries' => $n->status()['entries']]);
            PHP, [$state, $folder]);
        if ($code !== 0) {
            throw new \RuntimeException("inspecting $state failed ($code): $err");
        }
        return json_decode($out, true, 512, JSON_THROW_ON_ERROR);
    }

    /**
     * SIGKILL of the owner, again and again, while it commits: a stream of
     * notifies of real files (each one taken into the journal and turned
     * into a signed entry) and scans of a folder of a thousand files. After
     * it: the store opens, verify() passes, and every notify that returned
     * is recorded, once.
     */
    public function testSigkillWhileTheOwnerCommitsLeavesAVerifiableStoreAndLosesNoAcknowledgedNotify(): void
    {
        $t0 = microtime(true);
        $root = Env::tempDir();
        $state = "$root/state";
        $docs = "$root/docs";
        mkdir("$docs/scan", 0700, true);
        self::addFolder($state, 'docs', $docs);
        // The writer edits files and notifies each edit; it prints the
        // number of every notify that returned (acknowledged).
        $writer = $this->track(Process::start([...Env::php(), Env::script(<<<'PHP'
            $c = new Harp\Client($argv[1]);
            $docs = $argv[2];
            @mkdir("$docs/w");
            $deadline = microtime(true) + 12;
            for ($i = 0; microtime(true) < $deadline; $i++) {
                $p = 'w/' . ($i % 300) . '.txt';
                file_put_contents("$docs/$p", "edit $i");
                $c->notify('docs', $p);
                echo "$i\n";
                if ($i % 50 === 0) { usleep(5000); }
            }
            PHP), $state, $docs]));
        $kills = 0;
        $scanned = 0;
        for ($round = 0; $round < 8 && $writer->running(); $round++) {
            // Some rounds also scan a folder that grows by 250 files each time.
            if ($round % 2 === 0) {
                for ($i = 0; $i < 250; $i++) {
                    file_put_contents("$docs/scan/r{$round}-$i.bin", random_bytes(2000 + $i));
                }
                $scanned += 250;
            }
            $owner = new Owner($state);
            if ($round % 2 === 0) {
                $this->track(Process::start([...Env::php(), '-r', '(new Harp\Client($argv[1]))->scan("docs");', $state]));
            }
            usleep(random_int(100_000, 700_000));
            $owner->proc->kill();
            $kills++;
        }
        [$code, $out, $err] = $writer->wait(60);
        $this->assertSame(0, $code, $err);
        $acked = array_map('intval', array_filter(explode("\n", $out), 'strlen'));
        $this->assertGreaterThan(500, count($acked), 'the writer notified through the kills');

        $r = self::inspect($state, 'docs');
        $this->assertTrue($r['verify']['ok'], 'verify after ' . $kills . ' SIGKILLs: ' . json_encode($r['verify']['problems'] ?? null));
        $want = array_map(fn ($i) => 'w/' . ($i % 300) . '.txt', $acked);
        $this->assertCount(count($acked), $r['paths'], 'every acknowledged notify recorded exactly once');
        $this->assertSame($want, $r['paths'], 'in the order they were acknowledged');
        $this->assertGreaterThan(300, $r['entries']);
        // A scan after the kills records the rest, and everything still verifies.
        [$code, $out, $err] = Env::runPhp(<<<'PHP'
            $n = new Harp\Node($argv[1], ['listen' => '127.0.0.1:0']);
            $n->scan('docs');
            echo json_encode([$n->verify('docs')['ok'], count($n->history('docs', 'scan/r0-0.bin'))]);
            PHP, [$state]);
        $this->assertSame(0, $code, $err);
        $this->assertSame([true, 1], json_decode($out, true), 'scanned files recorded once, chain intact');
        measure('SIGKILLs of a committing owner (store verified after)', $kills, 'kills');
        measure('fault: sigkill during commits, test time', round(microtime(true) - $t0, 1), 's');
    }

    /**
     * Over loopback: B fetches a 48 MiB file from A. The test polls B's
     * target path the whole time: it is absent, or complete with the right
     * hash, never anything in between. B is SIGKILLed mid-transfer and
     * restarted; it resumes and completes.
     */
    public function testAFileBeingAppliedIsNeverSeenHalfWrittenEvenAcrossSigkill(): void
    {
        $t0 = microtime(true);
        $serve = function (string $state, string $name): array {
            $p = $this->track(Process::start([...Env::php(), Env::root() . '/bin/harp', 'serve', '--state-dir', $state, '--name', $name, '--no-mdns', '--listen', '127.0.0.1:0']));
            Env::waitUntil(fn () => str_contains($p->stdout(), 'serving') || !$p->running(), 30, "$name to start");
            $this->assertTrue($p->running(), $p->stderr());
            $c = new Client($state);
            $s = $c->status();
            return [$p, $c, $s['device_id'], $s['listen']];
        };
        $ra = Env::tempDir();
        $rb = Env::tempDir();
        mkdir("$ra/docs");
        mkdir("$rb/docs");
        $size = 48 * 1024 * 1024;
        $fh = fopen("$ra/docs/big.bin", 'wb');
        for ($i = 0; $i < 48; $i++) {
            fwrite($fh, random_bytes(1024 * 1024));
        }
        fclose($fh);
        $hash = hash_file('sha256', "$ra/docs/big.bin");
        self::addFolder("$ra/state", 'docs', "$ra/docs");
        self::addFolder("$rb/state", 'docs', "$rb/docs");
        [$pa, $a, $ida, $addra] = $serve("$ra/state", 'a');
        $a->scan('docs');
        [$pb, $b, $idb] = $serve("$rb/state", 'b');
        $a->trust($idb);
        $b->trust($ida, [$addra]); // B dials A, before and after its restart

        $target = "$rb/docs/big.bin";
        $looks = 0;
        $look = function () use ($target, $size, $hash, &$looks): bool {
            $looks++;
            clearstatcache();
            $s = @filesize($target);
            if ($s === false) {
                return false;
            }
            $this->assertSame($size, $s, 'the target never appears with part of its bytes');
            $this->assertSame($hash, hash_file('sha256', $target), 'the target is complete when it appears');
            return true;
        };
        $killedAt = null;
        $deadline = microtime(true) + 60;
        while (!$look() && microtime(true) < $deadline) {
            usleep(2000);
            if ($killedAt === null) {
                $done = ($b->status()['transfers'][0]['bytes_done'] ?? 0);
                if ($done > $size / 4) {
                    $pb->kill();
                    $killedAt = $done;
                    $this->assertFalse($look(), 'no half-written file after the SIGKILL');
                    $this->assertNotSame([], glob("$rb/docs/.harp-tmp-*"), 'the partial download is kept');
                    [$pb, $b] = $serve("$rb/state", 'b');
                }
            }
        }
        $this->assertNotNull($killedAt, 'B was killed mid-transfer');
        $this->assertTrue($look(), 'the file completed after the restart');
        $this->assertSame([], glob("$rb/docs/.harp-tmp-*"), 'no temporary file left');
        $this->assertGreaterThan(20, $looks);
        measure('fault: apply across SIGKILL, target looked at', $looks, 'times');
        measure('fault: apply across SIGKILL (48 MiB, loopback), test time', round(microtime(true) - $t0, 1), 's');
    }
}
