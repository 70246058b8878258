<?php

declare(strict_types=1);

namespace OCA\Harp\Tests;

use Harp\Client;
use Harp\Tests\Env;
use OCA\Harp\Config;
use OCA\Harp\Tests\Fake\Server;
use PHPUnit\Framework\TestCase;

/**
 * Two stand-in Nextcloud servers with a group folder mapped on both and
 * `occ harp:daemon` running as real processes: two members and a share
 * recipient each write, rename and delete (to the trash) on A; each change
 * arrives on B's disk and in B's file cache with sizes and quota usage
 * right, nothing is echoed back, a path B holds locked arrives after a
 * daemon restart, a folder mapped while the daemons run syncs at once, and
 * a name Nextcloud refuses is logged with the reason.
 */
final class TeamSyncTest extends TestCase
{
    private const USERS = ['alice', 'bob', 'carol'];

    /** A server with the Team group folder (alice, bob), carol's share of Team/Reports, and Team mapped. */
    private static function server(): string
    {
        $root = Nc::server();
        $s = Server::boot($root, self::USERS);
        $s->addGroupFolder(7, 'Team', ['alice', 'bob']);
        @mkdir("$root/data/__groupfolders/7/Reports", 0777, true);
        $s->share('alice', '/Team/Reports', 'carol', '/Reports');
        [$code, $out, $err] = Nc::occ($root, ['harp:folder:add', 'team', 'alice', '/Team']);
        if ($code !== 0) {
            throw new \RuntimeException($out . $err);
        }
        return $root;
    }

    /** @return array<string, int> size of every file under $dir on disk, by path relative to it */
    private static function onDisk(string $dir): array
    {
        $out = [];
        if (is_dir($dir)) {
            $it = new \RecursiveIteratorIterator(new \RecursiveDirectoryIterator($dir, \FilesystemIterator::SKIP_DOTS));
            foreach ($it as $f) {
                if ($f->isFile()) {
                    $out[substr($f->getPathname(), strlen($dir) + 1)] = $f->getSize();
                }
            }
        }
        ksort($out);
        return $out;
    }

    /** The files (not folders) the cache lists under $prefix, with their sizes. */
    private static function cached(array $cache, string $prefix): array
    {
        $out = [];
        foreach ($cache as $p => $e) {
            if (str_starts_with($p, "$prefix/") && $e['type'] === 'file') {
                $out[substr($p, strlen($prefix) + 1)] = $e['size'];
            }
        }
        ksort($out);
        return $out;
    }

    public function testMembersAndARecipientSyncThroughAGroupFolderWithSizesRightAndNothingMissed(): void
    {
        $a = self::server();
        $b = self::server();
        $pa = Nc::daemon($a);
        $pb = Nc::daemon($b);
        $sa = Nc::occJson($a, ['harp:status']);
        $sb = Nc::occJson($b, ['harp:status']);
        $this->assertSame(0, Nc::occ($a, ['harp:trust', $sb['device_id'], $sb['listen']])[0]);
        $this->assertSame(0, Nc::occ($b, ['harp:trust', $sa['device_id'], $sa['listen']])[0]);
        $na = Server::boot($a, self::USERS);
        $nb = Server::boot($b, self::USERS);
        $teamB = "$b/data/__groupfolders/7";

        // Each writes on A: two members in the group folder, the recipient in the share.
        $na->write('bob', '/Team/bob.txt', str_repeat('b', 1000));
        $na->write('alice', '/Team/alice.txt', str_repeat('a', 2000));
        $na->write('carol', '/Reports/carol.txt', str_repeat('c', 3000));
        $want = ['Reports/carol.txt' => 3000, 'alice.txt' => 2000, 'bob.txt' => 1000];
        Env::waitUntil(fn () => self::onDisk($teamB) === $want && self::cached($nb->rootCache(), '__groupfolders/7') === $want, 30, "the three writes on B's disk and in B's file cache");

        // Each renames on A.
        $na->rename('bob', '/Team/bob.txt', '/Team/bob-2.txt');
        $na->rename('alice', '/Team/alice.txt', '/Team/alice-2.txt');
        $na->rename('carol', '/Reports/carol.txt', '/Reports/carol-2.txt');
        $want = ['Reports/carol-2.txt' => 3000, 'alice-2.txt' => 2000, 'bob-2.txt' => 1000];
        Env::waitUntil(fn () => self::onDisk($teamB) === $want && self::cached($nb->rootCache(), '__groupfolders/7') === $want, 30, 'the three renames on B, old names gone');

        // Each deletes on A, to the trash.
        $na->delete('bob', '/Team/alice-2.txt');
        $na->delete('alice', '/Team/bob-2.txt');
        $na->delete('carol', '/Reports/carol-2.txt');
        Env::waitUntil(fn () => self::onDisk($teamB) === [] && self::cached($nb->rootCache(), '__groupfolders/7') === [], 30, 'the three deletes on B');
        $this->assertNotEmpty(glob("$a/data/__groupfolders/trash/7/*.d*"), "A's deletes went to the group folder's trash");

        // Sizes: B's group folder and every folder above it add up again.
        $nb->write('bob', '/Team/Reports/kept.txt', str_repeat('k', 4321));
        Env::waitUntil(fn () => isset(self::cached($na->rootCache(), '__groupfolders/7')['Reports/kept.txt']) && $na->rootCache()['__groupfolders/7']['size'] === 4321, 30, "B's write in A's cache, sizes included");
        foreach ([$na, $nb] as $s) {
            $c = $s->rootCache();
            $this->assertSame(4321, $c['__groupfolders/7']['size'], 'the group folder size (its quota usage)');
            $this->assertSame(4321, $c['__groupfolders/7/Reports']['size']);
        }

        // A mapping added while the daemons run: synced and brought into the cache without a restart.
        foreach ([$a, $b] as $root) {
            [$code, $out, $err] = Nc::occ($root, ['harp:folder:add', 'docs', 'alice', '/Offices']);
            $this->assertSame(0, $code, $out . $err);
        }
        // Each request loads the app config once (as Nextcloud's AppConfig does): a new one sees the mapping.
        $na = Server::boot($a, self::USERS);
        $nb = Server::boot($b, self::USERS);
        $before = $nb->usedSpace('alice');
        $na->write('alice', '/Offices/report.txt', str_repeat('r', 5000));
        Env::waitUntil(fn () => isset($nb->cache('alice')['files/Offices/report.txt']) && $nb->usedSpace('alice') - $before === 5000, 30, "a file of a folder mapped while B's daemon runs, in B's cache and quota");
        $this->assertSame(5000, $nb->usedSpace('alice') - $before, "alice's quota usage on B counts the file");
        $this->assertSame(5000, $nb->cache('alice')['files/Offices']['size']);

        // A name Nextcloud refuses arrives on disk and is logged with the reason.
        $na->write('alice', '/Offices/.htaccess', 'from a device that allows it');
        Env::waitUntil(fn () => is_file("$b/data/alice/files/Offices/.htaccess") && Nc::logged($nb, "'.htaccess' in folder 'docs' arrived on disk but Nextcloud refuses its name"), 30, "B's daemon to log the refused name");
        $this->assertArrayNotHasKey('files/Offices/.htaccess', $nb->cache('alice'));

        // A path B holds locked (an upload in progress) while B's daemon restarts.
        $release = $nb->lock('alice', '/Team/locked.txt');
        $na->write('alice', '/Team/locked.txt', str_repeat('L', 777));
        Env::waitUntil(fn () => Nc::logged($nb, "team/locked.txt waits for Nextcloud's lock"), 30, "B's daemon to meet the lock");
        $this->assertFileDoesNotExist("$teamB/locked.txt", 'not written under the lock');
        $pb->signal(SIGTERM);
        $this->assertSame(0, $pb->wait(30)[0]);
        $pb = Nc::daemon($b);
        $release();
        Env::waitUntil(fn () => ($nb->rootCache()['__groupfolders/7/locked.txt']['size'] ?? null) === 777 && $nb->rootCache()['__groupfolders/7']['size'] === 4321 + 777, 30, 'the locked path in B\'s cache once released, after the restart, sizes included');
        $this->assertSame(4321 + 777, $nb->rootCache()['__groupfolders/7']['size']);

        // Nothing came back: one version of each path on A.
        $clientA = new Client($na->get(Config::class)->stateDir());
        foreach (['bob.txt', 'alice.txt', 'Reports/carol.txt', 'Reports/kept.txt', 'locked.txt'] as $p) {
            $this->assertCount(1, array_filter($clientA->history('team', $p), fn ($v) => $v['kind'] === 'write'), "one written version of $p");
        }

        foreach ([$pa, $pb] as $p) {
            $p->signal(SIGTERM);
            $this->assertSame(0, $p->wait(30)[0]);
        }
        $this->assertSame([], array_values(array_filter([...$na->log(), ...$nb->log()], fn ($l) => $l['level'] === 'error')), 'nothing failed');
    }
}
