<?php

declare(strict_types=1);

namespace Harp\Tests;

use PHPUnit\Framework\TestCase;

/** bin/harp as a user runs it. */
final class CliTest extends TestCase
{
    /** @return array{0: int, 1: string, 2: string} */
    private function harp(string ...$args): array
    {
        return Process::start([...Env::php(), Env::root() . '/bin/harp', ...$args])->wait(60);
    }

    public function testHelpAndUsageErrors(): void
    {
        [$code, $out] = $this->harp('--help');
        $this->assertSame(0, $code);
        $this->assertStringContainsString('Usage: harp <command>', $out);
        foreach (['id', 'serve', 'status'] as $cmd) {
            [$code, $out] = $this->harp($cmd, '--help');
            $this->assertSame(0, $code);
            $this->assertStringContainsString("Usage: harp $cmd", $out);
        }
        [$code, , $err] = $this->harp('frobnicate');
        $this->assertSame(64, $code);
        $this->assertStringContainsString("unknown command 'frobnicate'", $err);
        [$code, , $err] = $this->harp('status', '--bogus');
        $this->assertSame(64, $code);
        $this->assertStringContainsString('unknown option --bogus', $err);
    }

    public function testWithoutTheExtensionItSaysHowToInstallIt(): void
    {
        [$code, , $err] = Process::start([...Env::php(false), Env::root() . '/bin/harp', 'status'])->wait();
        $this->assertSame(69, $code);
        $this->assertStringContainsString('scripts/install', $err);
    }

    public function testIdStatusAndServe(): void
    {
        $dir = Env::tempDir() . '/state';
        [$code, $id] = $this->harp('id', '--state-dir', $dir);
        $this->assertSame(0, $code);
        $id = trim($id);
        $this->assertMatchesRegularExpression('/^([A-Z2-7]{7}-){7}[A-Z2-7]{7}$/', $id);

        [$code, $out] = $this->harp('status', '--state-dir', $dir);
        $this->assertSame(2, $code, 'exit 2 when no owner runs');
        $this->assertStringContainsString('not running', $out);
        $this->assertStringContainsString($id, $out);

        $owner = new Owner($dir);
        [$code, $id2] = $this->harp('id', '--state-dir', $dir);
        $this->assertSame([0, $id], [$code, trim($id2)], 'id asks the running owner');
        (new \Harp\Client($dir))->notify('docs', 'hello.txt');
        Env::waitUntil(fn () => (new \Harp\Client($dir))->status()['changes'] === 1, 10, 'the change');
        [$code, $out] = $this->harp('status', '--state-dir', $dir, '--json');
        $this->assertSame(0, $code);
        $s = json_decode($out, true);
        $this->assertTrue($s['running']);
        $this->assertSame($owner->proc->pid, $s['pid']);
        $this->assertSame(1, $s['changes']);

        [$code, , $err] = $this->harp('serve', '--state-dir', $dir);
        $this->assertSame(1, $code);
        $this->assertStringContainsString("already owned by process {$owner->proc->pid}", $err);
        $owner->stop();
        $this->assertStringContainsString('harp: stopped', $owner->proc->stdout());
    }

    public function testServePrintsChangesAsTheyAreRecorded(): void
    {
        $dir = Env::tempDir() . '/state';
        $p = Process::start([...Env::php(), Env::root() . '/bin/harp', 'serve', '--state-dir', $dir, '--no-mdns']);
        Env::waitUntil(fn () => str_contains($p->stdout(), 'serving'), 30, 'serve');
        (new \Harp\Client($dir))->notify('docs', 'reports/q3.ods');
        Env::waitUntil(fn () => str_contains($p->stdout(), 'docs/reports/q3.ods'), 10, 'the change to be printed');
        $this->assertMatchesRegularExpression('/\d\d:\d\d:\d\d local_change\s+docs\/reports\/q3.ods/', $p->stdout());
        $p->signal(2); // Ctrl-C
        [$code] = $p->wait(20);
        $this->assertSame(0, $code);
    }

    public function testFolderAddShareUnshareAndListSayWhomEachFolderGoesTo(): void
    {
        $dir = Env::tempDir() . '/state';
        $work = Env::tempDir();
        $ids = [];
        foreach (['b', 'c', 'd'] as $n) {
            [$code, $out] = $this->harp('id', '--state-dir', "$work/$n");
            $this->assertSame(0, $code);
            $ids[$n] = trim($out);
        }
        [$b, $c, $d] = [$ids['b'], $ids['c'], $ids['d']];
        $owner = new Owner($dir);
        foreach ([$b, $c] as $id) {
            $this->assertSame(0, $this->harp('trust', $id, '127.0.0.1:9', '--state-dir', $dir)[0]);
        }
        $list = function () use ($dir): array {
            [$code, $out, $err] = $this->harp('folder', 'list', '--state-dir', $dir, '--json');
            $this->assertSame(0, $code, $err);
            return array_column(json_decode($out, true, 512, JSON_THROW_ON_ERROR), null, 'id');
        };

        // Without --device: every trusted device, now and later.
        [$code, $out, $err] = $this->harp('folder', 'add', 'sales', "$work/sales", '--state-dir', $dir);
        $this->assertSame(0, $code, $err);
        $this->assertStringContainsString("folder sales -> $work/sales", $out);
        $this->assertStringContainsString('shared with all trusted devices', $out);
        // With --device, repeated: those devices only.
        [$code, $out, $err] = $this->harp('folder', 'add', 'hr', "$work/hr", '--device', $c, '--state-dir', $dir);
        $this->assertSame(0, $code, $err);
        $this->assertStringContainsString("shared with $c\n", $out);
        [$code, , $err] = $this->harp('folder', 'add', 'board', "$work/board", "--device=$b", '--device', $c, '--state-dir', $dir);
        $this->assertSame(0, $code, $err);
        $f = $list();
        $this->assertSame([true, false, false], [$f['sales']['all_devices'], $f['hr']['all_devices'], $f['board']['all_devices']]);
        $this->assertEqualsCanonicalizing([$b, $c], $f['sales']['devices'], 'every trusted device, listed');
        $this->assertSame([$c], $f['hr']['devices']);
        $this->assertEqualsCanonicalizing([$b, $c], $f['board']['devices']);

        [$code, $out] = $this->harp('folder', 'list', '--state-dir', $dir);
        $this->assertSame(0, $code);
        $this->assertMatchesRegularExpression('/^hr\s+' . preg_quote("$work/hr", '/') . ' \(0 files, 0 conflicts\)\n\s+shared with ' . preg_quote($c, '/') . '$/m', $out);
        $this->assertMatchesRegularExpression('/^sales\s+.*\n\s+shared with all trusted devices \(now [A-Z2-7-]{63}, [A-Z2-7-]{63}\)$/m', $out);

        // Unsharing from "every trusted device" leaves the others trusted now.
        [$code, $out, $err] = $this->harp('folder', 'unshare', 'sales', $b, '--state-dir', $dir);
        $this->assertSame(0, $code, $err);
        $this->assertSame("folder sales is shared with $c\n", $out);
        [$code, $out, $err] = $this->harp('folder', 'share', 'hr', $b, '--state-dir', $dir);
        $this->assertSame(0, $code, $err);
        $this->assertStringContainsString('folder hr is shared with ', $out);
        $this->assertStringNotContainsString('not trusted', $out);
        // Sharing with a device not trusted here works, and says that nothing goes to it yet.
        [$code, $out, $err] = $this->harp('folder', 'share', 'board', $d, '--state-dir', $dir);
        $this->assertSame(0, $code, $err);
        $this->assertStringContainsString("note: $d is not trusted here yet", $out);
        [$code, $out] = $this->harp('folder', 'unshare', 'board', $c, '--state-dir', $dir);
        $this->assertSame(0, $code);
        $f = $list();
        $this->assertSame([false, [$c]], [$f['sales']['all_devices'], $f['sales']['devices']]);
        $this->assertEqualsCanonicalizing([$b, $c], $f['hr']['devices']);
        $this->assertEqualsCanonicalizing([$b, $d], $f['board']['devices']);

        // Mistakes: exit 64 for usage, 1 with the reason for the rest, and nothing changes.
        [$code, , $err] = $this->harp('folder', 'share', 'hr', '--state-dir', $dir);
        $this->assertSame(64, $code);
        $this->assertStringContainsString('Usage: harp folder add ID PATH [--device DEVICE]...', $err);
        [$code, , $err] = $this->harp('folder', 'list', '--device', $b, '--state-dir', $dir);
        $this->assertSame(64, $code);
        $this->assertStringContainsString('--device is an option of `harp folder add`', $err);
        [$code, , $err] = $this->harp('folder', 'unshare', 'nosuch', $b, '--state-dir', $dir);
        $this->assertSame(1, $code);
        $this->assertStringContainsString('unknown folder "nosuch"', $err);
        [$code, , $err] = $this->harp('folder', 'add', 'ops', "$work/ops", '--device', substr($b, 0, -1) . (str_ends_with($b, 'A') ? 'B' : 'A'), '--state-dir', $dir);
        $this->assertSame(1, $code);
        $this->assertStringContainsString('mistyped', $err);
        $this->assertArrayNotHasKey('ops', $list());

        // Kept across restarts; read without an owner, this command owns the directory.
        $owner->stop();
        $f = $list();
        $this->assertSame([$c], $f['sales']['devices']);
        $this->assertEqualsCanonicalizing([$b, $c], $f['hr']['devices']);
        [$code, $out] = $this->harp('folder', '--help');
        $this->assertSame(0, $code);
        $this->assertStringContainsString('harp folder unshare ID DEVICE', $out);
    }
}
