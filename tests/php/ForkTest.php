<?php

declare(strict_types=1);

namespace Harp\Tests;

use PHPUnit\Framework\TestCase;

/** pcntl_fork() after Client or Node has been used. */
final class ForkTest extends TestCase
{
    public function testForkedChildWorksAndExitsAndTheParentRuntimeIsUnaffected(): void
    {
        $dir = Env::tempDir();
        [$code, $out, $err] = Env::runPhp(<<<'PHP'
            $dir = $argv[1];
            $node = new Harp\Node($dir, ['mdns' => false]);
            $node->start();
            $client = new Harp\Client($dir);
            $client->notify('docs', 'before-fork.txt');
            $node->status();

            $pid = pcntl_fork();
            if ($pid === 0) {
                // Child: both objects are inherited copies.
                $client->notify('docs', 'from-child.txt');
                $s = $node->status();          // asks the parent over the socket
                $c = (new Harp\Client($dir))->status();
                try { $node->start(); $own = 'started'; } catch (Harp\Exception\HarpException $e) { $own = 'refused'; }
                echo json_encode(['role' => $s['role'], 'running' => $s['running'], 'pid' => $s['pid'], 'client' => $c['running'], 'start' => $own]), "\n";
                exit(7);
            }
            $deadline = microtime(true) + 20;
            do {
                $r = pcntl_waitpid($pid, $status, WNOHANG);
                usleep(10000);
            } while ($r === 0 && microtime(true) < $deadline);
            echo json_encode(['reaped' => $r === $pid, 'exit' => pcntl_wexitstatus($status)]), "\n";

            $client->notify('docs', 'after-fork.txt');
            $paths = [];
            $until = microtime(true) + 10;
            while (count($paths) < 3 && microtime(true) < $until) {
                if ($e = $node->poll(100)) { $paths[] = $e->path; }
            }
            $s = $node->status();
            echo json_encode(['paths' => $paths, 'running' => $s['running'], 'role' => $s['role']]), "\n";
            $node->stop();
            PHP, [$dir], [], 60);
        $this->assertSame(0, $code, $err);
        [$child, $wait, $parent] = array_map(fn ($l) => json_decode($l, true), explode("\n", trim($out)));
        $this->assertSame(['role' => 'client', 'running' => true, 'client' => true, 'start' => 'refused'], array_diff_key($child, ['pid' => 0]));
        $this->assertNotSame(0, $child['pid']);
        $this->assertSame(['reaped' => true, 'exit' => 7], $wait, 'the child exited by itself, without hanging');
        $this->assertSame(['before-fork.txt', 'from-child.txt', 'after-fork.txt'], $parent['paths']);
        $this->assertTrue($parent['running']);
        $this->assertSame('owner', $parent['role']);
    }

    public function testAChildThatOutlivesItsParentsNodeDoesNotKeepTheOwnerLock(): void
    {
        $dir = Env::tempDir();
        [$code, $out, $err] = Env::runPhp(<<<'PHP'
            $node = new Harp\Node($argv[1], ['mdns' => false]);
            $node->start();
            $pid = pcntl_fork();
            if ($pid === 0) {
                sleep(4);          // outlives the parent's node
                exit(0);
            }
            $node = null;          // the parent gives the directory up
            // Another process can own it now, while the child still runs.
            $cmd = [PHP_BINARY, '-n', '-d', 'extension=' . getenv('HARP_EXT'), '-r',
                    '$n = new Harp\Node($argv[1], ["mdns" => false]); $n->start(); echo $n->status()["running"] ? "owned" : "not running";', $argv[1]];
            $p = proc_open($cmd, [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes);
            $answer = stream_get_contents($pipes[1]) . stream_get_contents($pipes[2]);
            proc_close($p);
            echo $answer, "\n", pcntl_waitpid($pid, $st, WNOHANG) === 0 ? 'child alive' : 'child gone';
            pcntl_waitpid($pid, $st);
            PHP, [$dir]);
        $this->assertSame(0, $code, $err);
        $this->assertSame("owned\nchild alive", trim($out));
    }
}
