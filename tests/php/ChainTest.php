<?php

declare(strict_types=1);

namespace Harp\Tests;

use Harp\Client;
use Harp\Node;
use PHPUnit\Framework\TestCase;

/** Folders, scans, entries, history and verify, on the real extension. */
final class ChainTest extends TestCase
{
    private function folder(array $files): string
    {
        $dir = Env::tempDir() . '/docs';
        foreach ($files as $path => $content) {
            @mkdir(dirname("$dir/$path"), 0777, true);
            file_put_contents("$dir/$path", $content);
        }
        @mkdir($dir, 0777, true);
        return $dir;
    }

    public function testScanRecordsNewChangedDeletedAndSkipsUnchangedFiles(): void
    {
        $dir = $this->folder(['a.txt' => 'alpha', 'sub/b.bin' => random_bytes(200_000), 'CON.txt' => 'windows cannot']);
        $node = new Node(Env::tempDir());
        $node->addFolder('docs', $dir);
        $r = $node->scan('docs');
        $this->assertSame([2, 2, 0, 0, 2], [$r['files'], $r['new'], $r['changed'], $r['deleted'], $r['entries']]);
        $this->assertSame('CON.txt', $r['skipped'][0][0]);
        $this->assertStringContainsString('reserves', $r['skipped'][0][1]);
        $this->assertSame(200_005, $r['bytes_hashed']);

        $again = $node->scan('docs');
        $this->assertSame([2, 0, 0], [$again['unchanged'], $again['entries'], $again['bytes_hashed']], 'nothing re-read');

        file_put_contents("$dir/a.txt", 'alpha, edited');
        unlink("$dir/sub/b.bin");
        touch("$dir/new.txt");
        $r = $node->scan('docs');
        $this->assertSame([1, 1, 1, 3], [$r['new'], $r['changed'], $r['deleted'], $r['entries']]);
        $this->assertSame(strlen('alpha, edited'), $r['bytes_hashed'], 'only changed files are hashed');

        $f = $node->folders()[0];
        $this->assertSame(['docs', realpath($dir), 2, 0], [$f['id'], $f['path'], $f['files'], $f['conflicts']]);
        $this->assertSame(5, $node->status()['entries']);
    }

    public function testHistoryListsEveryVersionNewestFirst(): void
    {
        $dir = $this->folder(['r.txt' => 'v1']);
        $node = new Node(Env::tempDir());
        $node->addFolder('docs', $dir);
        $node->scan('docs');
        file_put_contents("$dir/r.txt", 'version two');
        touch("$dir/r.txt", time() + 5);
        $node->scan('docs');
        unlink("$dir/r.txt");
        $node->scan('docs');
        $h = $node->history('docs', 'r.txt');
        $this->assertSame(['delete', 'write', 'write'], array_column($h, 'kind'));
        $this->assertSame([0, 11, 2], array_column($h, 'size'));
        $this->assertSame([3, 2, 1], array_column($h, 'seq'));
        $this->assertSame($node->deviceId(), $h[0]['author']);
        $this->assertMatchesRegularExpression('/^[0-9a-f]{64}$/', $h[1]['entry']);
        $this->assertMatchesRegularExpression('/^[0-9a-f]{64}$/', $h[1]['content']);
        $this->assertNull($h[0]['content']);
        $this->assertSame([], $node->history('docs', 'never.txt'));
    }

    public function testNotifiesBecomeEntriesThroughTheRunningOwner(): void
    {
        $state = Env::tempDir();
        $dir = $this->folder([]);
        $owner = new Owner($state);
        $c = new Client($state);
        $c->addFolder('docs', $dir);
        file_put_contents("$dir/a.txt", 'hello');
        $c->notify('docs', 'a.txt');
        Env::waitUntil(fn () => count($c->history('docs', 'a.txt')) === 1, 10, 'the write entry');
        rename("$dir/a.txt", "$dir/b.txt");
        $c->notify('docs', 'b.txt', 'rename', 'a.txt');
        Env::waitUntil(fn () => count($c->history('docs', 'b.txt')) === 1, 10, 'the rename entry');
        $h = $c->history('docs', 'b.txt')[0];
        $this->assertSame(['rename', 'a.txt', 5], [$h['kind'], $h['from'], $h['size']]);
        $this->assertSame('renamed_away', $c->history('docs', 'a.txt')[0]['kind']);
        unlink("$dir/b.txt");
        $c->notify('docs', 'b.txt', 'delete');
        Env::waitUntil(fn () => ($c->history('docs', 'b.txt')[0]['kind'] ?? '') === 'delete', 10, 'the delete entry');
        // A write notify for a file that did not change records nothing.
        file_put_contents("$dir/c.txt", 'same');
        $c->notify('docs', 'c.txt');
        $c->notify('docs', 'c.txt');
        Env::waitUntil(fn () => $c->status()['changes'] === 5, 10, 'the notifies');
        Env::waitUntil(fn () => $c->status()['entries'] === 4, 10, 'the entries');
        usleep(200_000);
        $this->assertSame(4, $c->status()['entries'], 'the second notify of c.txt made no entry');
        $v = $c->verify('docs');
        $this->assertSame([true, 4, []], [$v['ok'], $v['checked'], $v['problems']]);
        $owner->stop();
    }

    public function testEntriesAcknowledgedSurviveSigkillAtAnyMoment(): void
    {
        $state = Env::tempDir() . '/state';
        $dir = $this->folder([]);
        $writer = Env::script(<<<'PHP'
            [, $state, $dir, $round] = $argv;
            $n = new Harp\Node($state, ['mdns' => false]);
            $n->addFolder('docs', $dir);
            for ($i = 0; ; $i++) {
                for ($j = 0; $j < 20; $j++) {
                    file_put_contents("$dir/r$round-$i-$j.txt", str_repeat("$i $j ", 50));
                }
                $n->scan('docs');
                // Acknowledged: the scan returned, so these entries are committed.
                fwrite(STDOUT, 'acked ' . $n->status()['entries'] . "\n");
            }
            PHP);
        $acked = 0;
        for ($round = 0; $round < 6; $round++) {
            $p = Process::start([...Env::php(), $writer, $state, $dir, (string) $round]);
            Env::waitUntil(fn () => str_contains($p->stdout(), 'acked'), 30, 'a first acknowledgement');
            usleep(random_int(0, 150_000));
            $p->kill();
            preg_match_all('/acked (\d+)/', $p->stdout(), $m);
            $acked = max($acked, (int) end($m[1]));
        }
        [$code, $out, $err] = Env::runPhp(<<<'PHP'
            $n = new Harp\Node($argv[1], ['mdns' => false]);
            $before = $n->status()['entries'];
            $v = $n->verify('docs');
            $n->scan('docs');    // whatever a kill left unrecorded is recorded now
            $files = count(glob($argv[2] . '/*.txt'));
            echo json_encode(['before' => $before, 'ok' => $v['ok'], 'problems' => $v['problems'], 'view' => $n->folders()[0]['files'], 'disk' => $files, 'ok2' => $n->verify('docs')['ok']]);
            PHP, [$state, $dir]);
        $this->assertSame(0, $code, $err);
        $r = json_decode($out, true);
        $this->assertGreaterThanOrEqual($acked, $r['before'], 'no acknowledged entry was lost');
        $this->assertTrue($r['ok'], json_encode($r['problems']));
        $this->assertSame($r['disk'], $r['view'], 'every file on disk is in the chain');
        $this->assertTrue($r['ok2']);
    }

    public function testVerifyNamesTheDamagedEntryAndTheCliExitsNonZero(): void
    {
        $state = Env::tempDir();
        $dir = $this->folder(['one.txt' => '1', 'damaged-target.txt' => '2', 'three.txt' => '3']);
        [$code] = Process::start([...Env::php(), Env::root() . '/bin/harp', 'folder', 'add', 'docs', $dir, '--state-dir', $state])->wait();
        $this->assertSame(0, $code);
        [$code, $out] = Process::start([...Env::php(), Env::root() . '/bin/harp', 'scan', 'docs', '--state-dir', $state])->wait();
        $this->assertSame(0, $code, $out);
        [$code, $out] = Process::start([...Env::php(), Env::root() . '/bin/harp', 'verify', 'docs', '--state-dir', $state])->wait();
        $this->assertSame([0, "docs: ok, 3 entries checked\n"], [$code, $out]);

        // One flipped bit in the stored entry (in every copy redb keeps).
        $db = "$state/store.redb";
        $bytes = file_get_contents($db);
        $n = substr_count($bytes, 'damaged-target.txt');
        $this->assertGreaterThan(0, $n);
        file_put_contents($db, str_replace('damaged-target.txt', 'damaged-tArget.txt', $bytes));

        [$code, $out] = Process::start([...Env::php(), Env::root() . '/bin/harp', 'verify', 'docs', '--state-dir', $state, '--json'])->wait();
        $this->assertSame(1, $code);
        $r = json_decode($out, true);
        $this->assertFalse($r['ok']);
        $this->assertCount(1, $r['problems']);
        $this->assertSame(['damaged-tArget.txt', 'broken link'], [$r['problems'][0]['path'], $r['problems'][0]['reason']]);
    }
}
