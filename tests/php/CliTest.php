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
}
