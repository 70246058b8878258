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
     * Over loopback: B fetches a 32 MiB file from A. The test polls B's
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
        $size = 32 * 1024 * 1024;
        $fh = fopen("$ra/docs/big.bin", 'wb');
        for ($i = 0; $i < 32; $i++) {
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
        measure('fault: apply across SIGKILL (32 MiB, loopback), test time', round(microtime(true) - $t0, 1), 's');
    }

    /**
     * Runs $cmd in a private mount namespace with a $size tmpfs mounted at
     * $mnt (with a `docs` directory in it). The mount exists only in that
     * namespace and goes away with its last process.
     */
    private function inTmpfs(string $mnt, string $size, array $cmd): Process
    {
        return $this->track(Process::start(['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c',
            'mount -t tmpfs -o size="$1" harp-fault "$0" && mkdir "$0/docs" && shift && exec "$@"', $mnt, $size, ...$cmd]));
    }

    /** Runs PHP code in the mount namespace of process $pid. @return array decoded JSON output */
    private function nsPhp(int $pid, string $code, array $args = []): array
    {
        // PHP's warnings go to stderr: stdout carries only the JSON answer.
        // -r -w: $pid's root and working directory too (a chroot's, under scripts/test-php84).
        [$rc, $out, $err] = Process::start(['nsenter', '-t', (string) $pid, '-m', '-r', '-w', '--', ...Env::php(), '-d', 'display_errors=stderr', Env::script($code), ...$args])->wait(60);
        $this->assertSame(0, $rc, "in the namespace: $err $out");
        $this->assertJson($out, "in the namespace: $err");
        return json_decode($out, true, 512, JSON_THROW_ON_ERROR);
    }

    /**
     * A full disk: state directory and folder on a 4 MiB tmpfs, filled up
     * while hooks notify. notify() throws StorageException once the outbox
     * cannot grow; the owner's status() says the disk is full; verify
     * passes; and once space is freed, the node carries on by itself: every
     * acknowledged notify is recorded, and a later change too, no restart.
     */
    public function testAFullDiskIsReportedAndTheNodeRecoversByItselfWhenSpaceIsFreed(): void
    {
        self::needRoot($this);
        $t0 = microtime(true);
        $mnt = Env::tempDir();
        $owner = $this->inTmpfs($mnt, '4m', [...Env::php(), Env::root() . '/bin/harp', 'serve', '--state-dir', "$mnt/state", '--no-mdns']);
        Env::waitUntil(fn () => str_contains($owner->stdout(), 'serving') || !$owner->running(), 30, 'the owner to start');
        $this->assertTrue($owner->running(), $owner->stderr());

        $full = $this->nsPhp($owner->pid, <<<'PHP'
            [, $state, $mnt] = $argv;
            $c = new Harp\Client($state);
            $c->addFolder('docs', "$mnt/docs");
            for ($f = 0; $f < 5; $f++) { file_put_contents("$mnt/docs/f$f.txt", '0000000'); }
            // Leave 48 KiB: the store, which grows by pages, runs out first;
            // the outbox, which grows by records, a little later.
            file_put_contents("$mnt/filler", str_repeat("\0", (int) disk_free_space($mnt) - 48 * 1024));
            $acked = 0;
            $thrown = null;
            for ($i = 0; $i < 5000 && $thrown === null; $i++) {
                $p = 'f' . ($i % 5) . '.txt';
                file_put_contents("$mnt/docs/$p", sprintf('%07d', $i)); // in place: no new block
                try {
                    $c->notify('docs', $p);
                    $acked++;
                } catch (Harp\Exception\HarpException $e) {
                    $thrown = [get_class($e), $e->getMessage()];
                }
                if ($i % 100 === 0) { usleep(20_000); }
            }
            $deadline = microtime(true) + 10;
            while (($s = $c->status())['last_error'] === null && microtime(true) < $deadline) { usleep(50_000); }
            echo json_encode(['acked' => $acked, 'thrown' => $thrown, 'status' => $s, 'verify' => $c->verify('docs')]);
            PHP, ["$mnt/state", $mnt]);
        $this->assertSame(\Harp\Exception\StorageException::class, $full['thrown'][0] ?? null, 'notify on a full disk: ' . json_encode($full['thrown']));
        $this->assertMatchesRegularExpression('/full \(no space left\).*not recorded.*free space/', $full['thrown'][1]);
        $this->assertMatchesRegularExpression('/no space left on the disk; nothing was lost/', (string) $full['status']['last_error'], 'status() says the disk is full');
        $this->assertLessThan($full['acked'], $full['status']['changes'], 'the owner could not record everything');
        $this->assertGreaterThan(0, $full['status']['outbox'], 'the rest waits in the outbox');
        $this->assertTrue($full['verify']['ok'], 'no damage: ' . json_encode($full['verify']));
        $this->assertTrue($owner->running(), 'the owner is still up');

        // Free the space: the owner takes the backlog by itself, and a new change is recorded.
        $after = $this->nsPhp($owner->pid, <<<'PHP'
            [, $state, $mnt, $acked] = $argv;
            $c = new Harp\Client($state);
            unlink("$mnt/filler");
            $deadline = microtime(true) + 15;
            while ((($s = $c->status())['changes'] < (int) $acked || $s['last_error'] !== null) && microtime(true) < $deadline) { usleep(50_000); }
            $backlog = $s;
            file_put_contents("$mnt/docs/new.txt", 'written after the disk had room again');
            $c->notify('docs', 'new.txt');
            $deadline = microtime(true) + 15;
            while (count($c->history('docs', 'new.txt')) === 0 && microtime(true) < $deadline) { usleep(50_000); }
            echo json_encode(['backlog' => $backlog, 'status' => $c->status(), 'new' => $c->history('docs', 'new.txt'), 'verify' => $c->verify('docs')]);
            PHP, ["$mnt/state", $mnt, (string) $full['acked']]);
        $this->assertSame($full['acked'], $after['backlog']['changes'], 'every acknowledged notify recorded once space was freed');
        $this->assertSame(0, $after['backlog']['outbox']);
        $this->assertNull($after['backlog']['last_error'], 'the error clears once storage works again');
        $this->assertCount(1, $after['new'], 'a later change is recorded without a restart');
        $this->assertSame($full['acked'] + 1, $after['status']['changes']);
        $this->assertTrue($after['verify']['ok']);
        $owner->signal(15);
        [$code, , $err] = $owner->wait(30);
        $this->assertSame(0, $code, $err);
        $this->assertStringContainsString('no space left on the disk', $err, 'the owner logged it');
        $this->assertStringContainsString('intake works again', $err);
        measure('fault: full disk, notifies acknowledged before notify threw', $full['acked'], 'notifies');
        measure('fault: full disk, of those recorded before space was freed', $full['status']['changes'], 'notifies');
        measure('fault: full disk and recovery, test time', round(microtime(true) - $t0, 1), 's');
    }

    /**
     * A read-only state directory (a tmpfs remounted read-only): a clear
     * ConfigException when the owner starts, a StorageException from
     * notify, and a status() that still answers.
     */
    public function testAReadOnlyStateDirectoryIsAClearErrorAtStart(): void
    {
        self::needRoot($this);
        $mnt = Env::tempDir();
        $script = Env::script(<<<'PHP'
            [, $stage, $mnt] = $argv;
            $state = "$mnt/state";
            if ($stage === 'init') {
                $n = new Harp\Node($state, ['listen' => '127.0.0.1:0']);
                $n->addFolder('docs', "$mnt/docs");
                exit(0);
            }
            $try = function (callable $f) {
                try { $f(); return 'no error'; } catch (Throwable $e) { return [get_class($e), $e->getMessage()]; }
            };
            echo json_encode([
                'node' => $try(fn () => new Harp\Node($state, ['listen' => '127.0.0.1:0'])),
                'notify' => $try(fn () => (new Harp\Client($state))->notify('docs', 'a.txt')),
                'status' => (new Harp\Client($state))->status()['running'],
            ]), "\n";
            PHP);
        $php = implode(' ', array_map('escapeshellarg', [...Env::php(), $script]));
        $serve = implode(' ', array_map('escapeshellarg', [...Env::php(), Env::root() . '/bin/harp', 'serve', '--state-dir', "$mnt/state", '--no-mdns']));
        $p = Process::start(['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c',
            "mount -t tmpfs -o size=4m harp-fault \"\$0\" && mkdir \"\$0/docs\" && $php init \"\$0\" && mount -o remount,ro \"\$0\" && $php ro \"\$0\" && $serve; echo \"serve exit \$?\"", $mnt]);
        [$code, $out, $err] = $p->wait(60);
        $this->assertSame(0, $code, $err);
        [$json, $exit] = explode("\n", trim($out), 2);
        $r = json_decode($json, true, 512, JSON_THROW_ON_ERROR);
        $this->assertSame(\Harp\Exception\ConfigException::class, $r['node'][0], $json);
        $this->assertMatchesRegularExpression('/owner lock .*Read-only file system.*must be writable/', $r['node'][1]);
        $this->assertSame(\Harp\Exception\StorageException::class, $r['notify'][0], $json);
        $this->assertMatchesRegularExpression('/read-only/', $r['notify'][1]);
        $this->assertFalse($r['status']);
        $this->assertSame('serve exit 1', $exit);
        $this->assertMatchesRegularExpression('/^harp: configuration error: .*must be writable/m', $err, 'harp serve says why');
    }

    /**
     * Too few file descriptors. At start: a StorageException that says so
     * (not a crash, not an "internal error"). While running: the owner's
     * descriptors are used up by idle control connections; intake fails
     * with a clear message, the owner stays up, and takes the backlog once
     * descriptors are free again.
     */
    public function testTooManyOpenFilesIsAClearErrorNotACrash(): void
    {
        $t0 = microtime(true);
        // At start, with limits too small to run at all.
        foreach ([8, 10, 12] as $n) {
            $state = Env::tempDir() . '/state';
            $p = Process::start(['prlimit', "--nofile=$n:$n", '--', ...Env::php(), Env::root() . '/bin/harp', 'serve', '--state-dir', $state, '--no-mdns']);
            [$code, , $err] = $p->wait(30);
            $this->assertSame(1, $code, "nofile=$n: $err");
            $this->assertMatchesRegularExpression('/^harp: storage error: .*too many open files; raise the limit \(ulimit -n/m', $err, "nofile=$n");
            $this->assertStringNotContainsString('internal error', $err);
        }

        // Running, then starved of descriptors by connections that sit idle.
        $state = Env::tempDir() . '/state';
        $owner = $this->track(Process::start(['prlimit', '--nofile=64:64', '--', ...Env::php(), Env::root() . '/bin/harp', 'serve', '--state-dir', $state, '--no-mdns']));
        Env::waitUntil(fn () => str_contains($owner->stdout(), 'serving') || !$owner->running(), 30, 'the owner to start');
        $this->assertTrue($owner->running(), $owner->stderr());
        $held = [];
        for ($i = 0; $i < 80; $i++) {
            $s = @stream_socket_client("unix://$state/harp.sock", $errno, $errstr, 1);
            if ($s !== false) {
                $held[] = $s;
            }
        }
        usleep(500_000);
        $c = new Client($state);
        for ($i = 0; $i < 50; $i++) {
            $c->notify('docs', "starved/$i.txt"); // the outbox needs no owner
        }
        Env::waitUntil(fn () => str_contains($owner->stderr(), 'too many open files'), 15, 'the owner to report it');
        $this->assertTrue($owner->running(), 'the owner is still up');
        $held = [];
        // The backlog is taken, and the error it reported clears by itself.
        Env::waitUntil(fn () => ($c->status()['changes'] ?? 0) === 50, 20, 'the backlog to be taken');
        Env::waitUntil(fn () => $c->status()['last_error'] === null, 10, 'last_error to clear');
        $this->assertSame(0, $c->status()['outbox']);
        $owner->signal(15);
        [$code, , $err] = $owner->wait(30);
        $this->assertSame(0, $code, $err);
        $this->assertStringNotContainsString('internal error', $err);
        $this->assertStringNotContainsString('panic', $err);
        measure('fault: too many open files, test time', round(microtime(true) - $t0, 1), 's');
    }
}
