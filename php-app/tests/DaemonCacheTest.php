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
        foreach ($this->daemons as $p) {
            if ($p->running()) {
                $p->signal(SIGTERM);
                $p->wait(30);
            }
        }
    }

    /**
     * Two servers, each with $folders mapped (id => path in alice's files)
     * and a daemon, trusting each other.
     * @return array{0: string, 1: string, 2: Process, 3: Process}
     */
    private function pair(array $folders = ['docs' => '/Offices']): array
    {
        $roots = [Nc::server(), Nc::server()];
        foreach ($roots as $root) {
            foreach ($folders as $id => $path) {
                [$code, $out, $err] = Nc::occ($root, ['harp:folder:add', $id, 'alice', $path]);
                $this->assertSame(0, $code, $out . $err);
            }
        }
        [$pa, $pb] = $this->daemons = [Nc::daemon($roots[0]), Nc::daemon($roots[1])];
        $sa = Nc::occJson($roots[0], ['harp:status']);
        $sb = Nc::occJson($roots[1], ['harp:status']);
        $this->assertSame(0, Nc::occ($roots[0], ['harp:trust', $sb['device_id'], $sb['listen']])[0]);
        $this->assertSame(0, Nc::occ($roots[1], ['harp:trust', $sa['device_id'], $sa['listen']])[0]);
        return [$roots[0], $roots[1], $pa, $pb];
    }

    private static function logged(Server $s, string $needle): bool
    {
        return array_filter($s->log(), fn ($l) => str_contains($l['message'], $needle)) !== [];
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
        Env::waitUntil(fn () => is_file("$b/data/alice/files/Offices/backup.filepart") && self::logged($nb, "'backup.filepart' in folder 'docs' arrived on disk but Nextcloud refuses its name"), 30, 'the refusal logged');
        $this->assertArrayNotHasKey('files/Offices/backup.filepart', $nb->cache('alice'));
        $this->assertTrue(self::logged($nb, '".filepart" is a forbidden file type.'), 'with the reason Nextcloud gives');
    }

    public function testAPathLockedInNextcloudArrivesOnceReleasedEvenAcrossARestart(): void
    {
        [$a, $b, , $pb] = $this->pair();
        $na = Server::boot($a);
        $nb = Server::boot($b);
        $release = $nb->lock('alice', '/Offices/upload.bin');
        $na->write('alice', '/Offices/upload.bin', str_repeat('u', 4_096));
        Env::waitUntil(fn () => is_file("$b/data/alice/files/Offices/upload.bin") && self::logged($nb, 'docs/upload.bin is locked in Nextcloud'), 30, "B's daemon to meet the lock");
        $this->assertArrayNotHasKey('files/Offices/upload.bin', $nb->cache('alice'));
        $pb->signal(SIGTERM);
        $this->assertSame(0, $pb->wait(30)[0]);
        $this->daemons[] = Nc::daemon($b);
        $release();
        // The reconcile inserts the file, then the folder sizes above it: wait for what a user sees, both.
        Env::waitUntil(fn () => ($nb->cache('alice')['files/Offices/upload.bin']['size'] ?? null) === 4_096 && $nb->usedSpace('alice') === 4_096, 30, 'the path in the cache once released, and counted in the quota');
        $this->assertSame(4_096, $nb->cache('alice')['files/Offices']['size']);
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
        Env::waitUntil(fn () => self::logged($nb, "folder 'late' is no longer mapped"), 30, "B's daemon to drop the mapping");
        $na->write('alice', '/Late/y.txt', 'after B unmapped it');
        $na->write('alice', '/Offices/marker.txt', 'still mapped');
        Env::waitUntil(fn () => is_file("$b/data/alice/files/Offices/marker.txt"), 30, 'a later change of a still-mapped folder');
        $this->assertFileDoesNotExist("$b/data/alice/files/Late/y.txt", 'nothing comes into an unmapped folder');
    }
}
