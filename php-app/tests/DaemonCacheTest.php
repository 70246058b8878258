<?php

declare(strict_types=1);

namespace OCA\Harp\Tests;

use Harp\Tests\Env;
use Harp\Tests\Process;
use OCA\Harp\Tests\Fake\Server;
use PHPUnit\Framework\TestCase;

/**
 * How `occ harp:daemon` brings what peers send into Nextcloud's file cache,
 * one point at a time, on two stand-in servers with alice's /Offices
 * mapped: sizes and quota usage follow (the Updater), a refused name is
 * logged, a locked path arrives after a restart, and a folder mapped while
 * the daemon runs is brought in without a restart.
 */
final class DaemonCacheTest extends TestCase
{
    /** @var list<Process> */
    private array $daemons = [];

    protected function tearDown(): void
    {
        Nc::stop(...$this->daemons);
    }

    /** @return array{0: string, 1: string, 2: Process, 3: Process} */
    private function pair(array $folders = ['docs' => '/Offices']): array
    {
        $pair = Nc::pair($folders);
        $this->daemons = [$pair[2], $pair[3]];
        return $pair;
    }

    public function testFolderSizesAndQuotaUsageFollowWhatArrives(): void
    {
        [$a, $b] = $this->pair();
        $na = Server::boot($a);
        $nb = Server::boot($b);
        $na->write('alice', '/Offices/a.bin', str_repeat('a', 10_000));
        $na->write('alice', '/Offices/deep/b.bin', str_repeat('b', 2_500));
        // The Updater inserts a file, then corrects the sizes above it: wait for both.
        Env::waitUntil(fn () => isset($nb->cache('alice')['files/Offices/deep/b.bin'], $nb->cache('alice')['files/Offices/a.bin']) && $nb->usedSpace('alice') === 12_500, 30, "both files in B's cache and quota usage");
        $c = $nb->cache('alice');
        $this->assertSame(12_500, $c['files/Offices']['size']);
        $this->assertSame(2_500, $c['files/Offices/deep']['size']);
        $this->assertSame(12_500, $nb->usedSpace('alice'), "alice's quota usage on B");
        $na->delete('alice', '/Offices/a.bin');
        Env::waitUntil(fn () => !isset($nb->cache('alice')['files/Offices/a.bin']) && $nb->usedSpace('alice') === 2_500, 30, "the delete in B's cache, and no longer counted");
        $this->assertSame(2_500, $nb->cache('alice')['files/Offices']['size']);
    }

    public function testANameNextcloudRefusesIsLoggedWithTheReason(): void
    {
        [$a, $b] = $this->pair();
        $na = Server::boot($a);
        $nb = Server::boot($b);
        $na->write('alice', '/Offices/backup.filepart', 'a name a Linux peer allows');
        Env::waitUntil(fn () => is_file("$b/data/alice/files/Offices/backup.filepart") && Nc::logged($nb, "'backup.filepart' in folder 'docs' arrived on disk but Nextcloud refuses its name"), 30, 'the refusal logged');
        $this->assertArrayNotHasKey('files/Offices/backup.filepart', $nb->cache('alice'));
        $this->assertTrue(Nc::logged($nb, '".filepart" is a forbidden file type.'), 'with the reason Nextcloud gives');
    }

    public function testAFileNextcloudHoldsLockedIsNotReplacedUntilReleasedEvenAcrossARestart(): void
    {
        [$a, $b, , $pb] = $this->pair();
        $na = Server::boot($a);
        $nb = Server::boot($b);
        $na->write('alice', '/Offices/report.odt', 'version 1');
        Env::waitUntil(fn () => isset($nb->cache('alice')['files/Offices/report.odt']), 30, 'version 1 on B');
        // Someone saves report.odt in B's Nextcloud (an upload holds its lock) while A's version 2 arrives.
        $release = $nb->lock('alice', '/Offices/report.odt');
        $na->write('alice', '/Offices/report.odt', 'version 2 from A');
        Env::waitUntil(fn () => Nc::logged($nb, "docs/report.odt waits for Nextcloud's lock on it"), 30, "B's daemon to refuse the placement while locked");
        $this->assertSame('version 1', file_get_contents("$b/data/alice/files/Offices/report.odt"), 'not replaced under the lock');
        $pb->signal(SIGTERM);
        $this->assertSame(0, $pb->wait(30)[0]);
        $this->daemons[] = Nc::daemon($b);
        usleep(2_500_000); // the node asks again every 2 s: the new daemon refuses too
        $this->assertSame('version 1', file_get_contents("$b/data/alice/files/Offices/report.odt"), 'still not replaced after the restart');
        $release();
        // The Updater writes the entry, then the sizes above it: wait for both.
        Env::waitUntil(fn () => @file_get_contents("$b/data/alice/files/Offices/report.odt") === 'version 2 from A' && ($nb->cache('alice')['files/Offices/report.odt']['size'] ?? null) === 16 && $nb->usedSpace('alice') === 16, 30, 'version 2 on B once released, in the cache and the quota');
    }

    public function testACacheChangeThatMeetsALockIsRetriedUntilReleased(): void
    {
        [$a, $b] = $this->pair();
        $na = Server::boot($a);
        $nb = Server::boot($b);
        $na->write('alice', '/Offices/old.txt', 'to be deleted');
        Env::waitUntil(fn () => isset($nb->cache('alice')['files/Offices/old.txt']), 30, 'the file on B');
        $release = $nb->lock('alice', '/Offices/old.txt');
        $na->delete('alice', '/Offices/old.txt');
        Env::waitUntil(function () use ($b, $nb) {
            clearstatcache(); // is_file() would answer from PHP's stat cache
            return !is_file("$b/data/alice/files/Offices/old.txt") && Nc::logged($nb, 'docs/old.txt is locked in Nextcloud');
        }, 30, "B's daemon to meet the lock");
        $this->assertArrayHasKey('files/Offices/old.txt', $nb->cache('alice'), 'the cache waits for the lock');
        $release();
        Env::waitUntil(fn () => !isset($nb->cache('alice')['files/Offices/old.txt']) && $nb->usedSpace('alice') === 0, 30, 'the entry gone once released');
    }

    public function testTheDaemonReconcilesTheCacheAtStartAndPeriodically(): void
    {
        $root = Nc::server();
        $this->assertSame(0, Nc::occ($root, ['harp:folder:add', 'docs', 'alice', '/Offices'])[0]);
        Nc::setConfig($root, 'reconcile_interval', '10');
        // Put on disk with no Nextcloud event (another program, or a peer's file while no daemon ran).
        file_put_contents("$root/data/alice/files/Offices/before.txt", str_repeat('x', 300));
        $s = Server::boot($root);
        $this->assertArrayNotHasKey('files/Offices/before.txt', $s->cache('alice'));
        $this->daemons[] = Nc::daemon($root);
        Env::waitUntil(fn () => ($s->cache('alice')['files/Offices/before.txt']['size'] ?? null) === 300 && $s->usedSpace('alice') === 300, 20, 'the reconcile at start');
        file_put_contents("$root/data/alice/files/Offices/later.txt", str_repeat('y', 200));
        Env::waitUntil(fn () => isset($s->cache('alice')['files/Offices/later.txt']) && $s->usedSpace('alice') === 500, 30, 'the periodic reconcile (every 10 s here)');
    }

    public function testAFolderMappedWhileTheDaemonRunsIsBroughtInWithoutARestart(): void
    {
        [$a, $b] = $this->pair();
        foreach ([$a, $b] as $root) {
            [$code, $out, $err] = Nc::occ($root, ['harp:folder:add', 'late', 'alice', '/Late']);
            $this->assertSame(0, $code, $out . $err);
            $this->assertStringNotContainsString('Restart harp:daemon', $out);
        }
        $na = Server::boot($a);
        $nb = Server::boot($b);
        $na->write('alice', '/Late/x.txt', 'mapped after the daemon started');
        Env::waitUntil(fn () => isset($nb->cache('alice')['files/Late/x.txt']), 30, "the new folder's file in B's cache");

        // And unmapped: the daemon stops syncing it without a restart.
        [$code, $out] = Nc::occ($b, ['harp:folder:remove', 'late']);
        $this->assertSame(0, $code, $out);
        Env::waitUntil(fn () => Nc::logged($nb, "folder 'late' is no longer mapped"), 30, "B's daemon to drop the mapping");
        $na->write('alice', '/Late/y.txt', 'after B unmapped it');
        $na->write('alice', '/Offices/marker.txt', 'still mapped');
        Env::waitUntil(fn () => is_file("$b/data/alice/files/Offices/marker.txt"), 30, 'a later change of a still-mapped folder');
        $this->assertFileDoesNotExist("$b/data/alice/files/Late/y.txt", 'nothing comes into an unmapped folder');
    }
}
