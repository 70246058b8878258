<?php

declare(strict_types=1);

namespace Harp\Tests;

use Harp\Client;
use Harp\Exception\AlreadyRunningException;
use Harp\Exception\ConfigException;
use Harp\Exception\InvalidPathException;
use PHPUnit\Framework\TestCase;

/** Harp\Node and Harp\Client as a PHP developer uses them. */
final class NodeTest extends TestCase
{
    public function testDeviceIdIsCreatedOnceAndStableAcrossProcesses(): void
    {
        $dir = Env::tempDir() . '/state';
        $code = 'echo (new Harp\Node($argv[1]))->deviceId();';
        [$c1, $id1, $e1] = Env::runPhp($code, [$dir]);
        [$c2, $id2] = Env::runPhp($code, [$dir]);
        $this->assertSame(0, $c1, $e1);
        $this->assertSame(0, $c2);
        $this->assertMatchesRegularExpression('/^([A-Z2-7]{7}-){7}[A-Z2-7]{7}$/', $id1);
        $this->assertSame($id1, $id2);
        $this->assertSame(0600, fileperms("$dir/device.key") & 0777);
    }

    public function testSecondOwnerInAnotherProcessIsRefusedWithThePid(): void
    {
        $dir = Env::tempDir();
        $owner = new Owner($dir);
        [$code, $out, $err] = Env::runPhp(<<<'PHP'
            try { new Harp\Node($argv[1]); echo "became owner"; }
            catch (Harp\Exception\AlreadyRunningException $e) { echo $e->getMessage(); }
            PHP, [$dir]);
        $this->assertSame(0, $code, $err);
        $this->assertStringContainsString("already owned by process {$owner->proc->pid}", $out);
        $owner->stop();
    }

    public function testAfterSigkillOfTheOwnerTheNextOneTakesOver(): void
    {
        $dir = Env::tempDir();
        $owner = new Owner($dir);
        $owner->proc->kill();
        $next = new Owner($dir);
        $s = (new Client($dir))->status();
        $this->assertTrue($s['running']);
        $this->assertSame($next->proc->pid, $s['pid']);
        $next->stop();
    }

    public function testStatusThroughNodeAndClient(): void
    {
        $dir = Env::tempDir();
        $node = new \Harp\Node($dir, ['name' => 'office-a', 'mdns' => false, 'listen' => '127.0.0.1:0']);
        $s = $node->status();
        $this->assertSame('owner', $s['role']);
        $this->assertFalse($s['running']);
        $this->assertSame('office-a', $s['name']);
        $this->assertSame('127.0.0.1:0', $s['listen']);
        $this->assertSame($node->deviceId(), $s['device_id']);
        foreach (['folders', 'peers', 'transfers'] as $k) {
            $this->assertSame([], $s[$k]);
        }

        $node->start();
        $node->start(); // starting twice is harmless
        $this->assertTrue($node->status()['running']);
        $this->assertMatchesRegularExpression('/^127\.0\.0\.1:[1-9]\d*$/', $node->status()['listen'], 'the bound QUIC port');
        $cs = (new Client($dir))->status();
        $this->assertSame('client', $cs['role']);
        $this->assertTrue($cs['running']);
        $this->assertSame(getmypid(), $cs['pid']);
        $this->assertSame($node->deviceId(), $cs['device_id']);

        $node->stop();
        $node->stop(); // and so is stopping twice
        $this->assertFalse($node->status()['running']);
        $this->assertFalse((new Client($dir))->status()['running']);
        $node->start();
        $this->assertTrue((new Client($dir))->status()['running'], 'restart after stop');
        $node->stop();
    }

    public function testNotifiesBecomeChangesAndEventsInOrder(): void
    {
        $dir = Env::tempDir();
        $node = new \Harp\Node($dir, ['mdns' => false]);
        $node->start();
        $c = new Client($dir);
        $c->notify('docs', '/reports/q1.txt');
        $c->notify('docs', 'reports/q1.txt', 'delete');
        $c->notify('docs', 'new.txt', 'rename', 'old.txt');
        $events = [];
        Env::waitUntil(function () use ($node, &$events) {
            while ($e = $node->poll(10)) {
                $events[] = $e;
            }
            return count($events) >= 3;
        }, 10, 'three events');
        $this->assertSame(['local_change', 'local_change', 'local_change'], array_map(fn ($e) => $e->kind, $events));
        $this->assertSame('reports/q1.txt', $events[0]->path, 'leading slash dropped');
        $this->assertSame('docs', $events[0]->folderId);
        $this->assertSame($node->deviceId(), $events[0]->deviceId);
        $this->assertSame([1, 2, 3], array_map(fn ($e) => $e->seq, $events));

        $changes = $node->changes();
        $this->assertSame(['write', 'delete', 'rename'], array_column($changes, 'kind'));
        $this->assertSame('old.txt', $changes[2]['from']);
        $this->assertSame(getmypid(), $changes[0]['pid']);
        $this->assertSame([$changes[2]], $node->changes(2));
        $this->assertSame(3, $node->status()['changes']);
        $this->assertSame(0, $node->status()['outbox']);
        $this->assertNull($node->poll(0));
        $node->stop();
    }

    public function testBadInputIsRefusedWithTheRightException(): void
    {
        $c = new Client(Env::tempDir());
        $cases = [
            [InvalidPathException::class, fn () => $c->notify('docs', '../etc/passwd'), '..'],
            [InvalidPathException::class, fn () => $c->notify('docs', "a\0b"), 'NUL'],
            [InvalidPathException::class, fn () => $c->notify('docs', 'a\\b'), 'backslash'],
            [InvalidPathException::class, fn () => $c->notify('docs', str_repeat('x', 300)), '255'],
            [InvalidPathException::class, fn () => $c->notify('docs', 'con.txt'), 'reserves'],
            [ConfigException::class, fn () => $c->notify('docs', 'a', 'explode'), 'write, delete or rename'],
            [ConfigException::class, fn () => $c->notify('docs', 'a', 'rename'), 'old path'],
            [ConfigException::class, fn () => $c->notify('../x', 'a'), 'folder id'],
            [ConfigException::class, fn () => new \Harp\Node(Env::tempDir(), ['listen' => 'nowhere']), 'IP:port'],
            [ConfigException::class, fn () => new \Harp\Node(Env::tempDir(), ['colour' => 'red']), 'unknown option'],
            [ConfigException::class, fn () => new \Harp\Node(''), 'harp.state_dir'],
        ];
        foreach ($cases as [$class, $fn, $needle]) {
            try {
                $fn();
                $this->fail("no $class for '$needle'");
            } catch (\Harp\Exception\HarpException $e) {
                $this->assertInstanceOf($class, $e);
                $this->assertStringContainsString($needle, $e->getMessage());
            }
        }
        $this->assertSame(0, $c->status()['outbox'], 'nothing refused was recorded');
    }

    public function testADamagedKeyIsAnErrorAndNotANewIdentity(): void
    {
        $dir = Env::tempDir();
        file_put_contents("$dir/device.key", 'not a key');
        try {
            new \Harp\Node($dir);
            $this->fail('a damaged key was accepted');
        } catch (\Harp\Exception\StorageException $e) {
            $this->assertStringContainsString('damaged', $e->getMessage());
        }
        $this->assertSame('not a key', file_get_contents("$dir/device.key"));
    }

    public function testAReadOnlyStateDirectoryIsAClearError(): void
    {
        if (posix_geteuid() === 0) {
            // root ignores permissions: use a read-only bind of the directory instead.
            $dir = Env::tempDir();
            $ro = Env::tempDir();
            exec('mount --bind ' . escapeshellarg($dir) . ' ' . escapeshellarg($ro) . ' && mount -o remount,bind,ro ' . escapeshellarg($ro) . ' 2>&1', $out, $rc);
            if ($rc !== 0) {
                $this->markTestSkipped('cannot make a read-only bind mount here: ' . implode(' ', $out));
            }
            try {
                new \Harp\Node($ro);
                $this->fail('a read-only state directory was accepted');
            } catch (\Harp\Exception\HarpException $e) {
                $this->assertStringContainsString('must be writable', $e->getMessage());
            } finally {
                exec('umount ' . escapeshellarg($ro));
            }
            return;
        }
        $this->markTestSkipped('needs root for the bind mount');
    }

    /**
     * The owner runs as root; a hook runs as another user (nobody, in the
     * state directory's group, as www-data is in the Nextcloud set-up). It
     * may notify and read; trust, addFolder, shareFolder and unshareFolder
     * throw ConfigException, and whom a folder is shared with stays as it was.
     */
    public function testAnotherUserMayNotifyAndReadButNotTrustOrAddOrShareFolders(): void
    {
        if (posix_geteuid() !== 0) {
            $this->markTestSkipped('needs root to run a process as nobody');
        }
        $base = Env::tempDir();
        chmod($base, 0711);
        $dir = "$base/state";
        mkdir($dir);
        chgrp($dir, 65534);
        chmod($dir, 02750);
        $x = (new \Harp\Node(Env::tempDir()))->deviceId();
        $y = (new \Harp\Node(Env::tempDir()))->deviceId();
        $owner = new Owner($dir);
        $root = new \Harp\Client($dir);
        $root->addFolder('docs', Env::tempDir(), ['devices' => [$x]]);
        $code = <<<'PHP'
            $c = new Harp\Client($argv[1]);
            $out = ['running' => $c->status()['running']];
            $c->notify('docs', 'from-nobody.txt');
            $out['notified'] = true;
            foreach (['trust' => fn () => $c->trust(str_repeat('AAAAAAA-', 7) . 'AAAAAAA'),
                      'addFolder' => fn () => $c->addFolder('etc', '/etc'),
                      'shareFolder' => fn () => $c->shareFolder('docs', $argv[3]),
                      'unshareFolder' => fn () => $c->unshareFolder('docs', $argv[2])] as $what => $f) {
                try { $f(); $out[$what] = 'allowed'; }
                catch (Harp\Exception\ConfigException $e) { $out[$what] = $e->getMessage(); }
            }
            echo json_encode($out);
            PHP;
        $p = Process::start(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', ...Env::php(), '-r', $code, $dir, $x, $y]);
        [$rc, $out, $err] = $p->wait(60);
        $docs = array_column($root->folders(), null, 'id')['docs'];
        $owner->stop();
        $this->assertSame(0, $rc, $out . $err);
        $got = json_decode($out, true);
        $this->assertIsArray($got, $out);
        $this->assertTrue($got['running']);
        $this->assertTrue($got['notified']);
        foreach (['trust', 'addFolder', 'shareFolder', 'unshareFolder'] as $what) {
            $this->assertStringContainsString('permission denied', $got[$what]);
            $this->assertStringContainsString('uid 65534 may only read and notify', $got[$what]);
        }
        $this->assertSame([false, [$x]], [$docs['all_devices'], $docs['devices']], 'still shared with X alone');
        $paths = array_column(recorded_changes($dir), 'path');
        $this->assertContains('from-nobody.txt', $paths);
    }
}
