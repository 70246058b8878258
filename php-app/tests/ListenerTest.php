<?php

declare(strict_types=1);

namespace OCA\Harp\Tests;

use Harp\Tests\Env;
use OCA\Harp\Bridge\Bridge;
use OCA\Harp\Bridge\HarpBridge;
use OCA\Harp\Config;
use OCA\Harp\FolderMap;
use OCA\Harp\PathFilter;
use OCA\Harp\Tests\Fake\Server;
use OCP\Util;
use PHPUnit\Framework\TestCase;

use function Harp\Tests\recorded_changes;

/**
 * File events in "Nextcloud" -> listener -> Harp\Client::notify -> the
 * durable outbox, read back by a real owner. No daemon runs: the outbox
 * keeps the changes, as it does in production while harp:daemon is down.
 */
final class ListenerTest extends TestCase
{
    private function server(): Server
    {
        $s = Server::boot(Nc::server());
        $s->get(FolderMap::class)->add('docs', 'alice', '/Offices');
        return $s;
    }

    /** @return list<string> "kind path [from]" of every change the outbox holds, deduplicated, in order */
    private function outbox(Server $s): array
    {
        $out = array_map(fn ($c) => trim("{$c['kind']} {$c['folder']}/{$c['path']} {$c['from']}"), recorded_changes($s->get(Config::class)->stateDir()));
        return array_values(array_unique($out));
    }

    public function testWritesRenamesAndDeletesInAMappedFolderReachTheOutbox(): void
    {
        $s = $this->server();
        $s->write('alice', '/Offices/report.txt', 'q4 figures');
        $s->write('alice', '/Offices/report.txt', 'q4 figures, revised');
        $s->write('alice', '/Offices/sub/notes.md', 'notes');
        $s->rename('alice', '/Offices/sub/notes.md', '/Offices/sub/minutes.md');
        $s->delete('alice', '/Offices/report.txt');
        $s->write('alice', '/Private/diary.txt', 'not synced: outside the mapping');
        $s->write('alice', '/Offices/big.iso.part', 'an upload in progress');
        $this->assertSame([
            'write docs/report.txt',
            'write docs/sub/notes.md',
            'rename docs/sub/minutes.md docs/sub/notes.md',
            'delete docs/report.txt',
        ], array_map(fn ($l) => preg_replace('#(rename docs/\S+) (\S+)#', '$1 docs/$2', $l), $this->outbox($s)));
        $this->assertSame([], array_filter($s->log(), fn ($l) => $l['level'] === 'error'), 'nothing failed');
    }

    public function testEachChangeThroughNextcloudSendsExactlyOneNotify(): void
    {
        // A new file fires BeforeNodeCreated, BeforeNodeWritten, a cache
        // insert, NodeCreated and NodeWritten; an edit BeforeNodeWritten, a
        // cache update and NodeWritten; a delete BeforeNodeDeleted, a cache
        // remove and NodeDeleted. Each is one change, so one notify.
        $s = $this->server();
        $s->write('alice', '/Offices/new.txt', 'first');
        $s->write('alice', '/Offices/new.txt', 'second');
        $s->delete('alice', '/Offices/new.txt');
        $raw = array_map(fn ($c) => "{$c['kind']} {$c['folder']}/{$c['path']}", recorded_changes($s->get(Config::class)->stateDir()));
        $this->assertSame(['write docs/new.txt', 'write docs/new.txt', 'delete docs/new.txt'], $raw);
        // What the scanner finds outside a web request (no node events)
        // is still sent, once per change.
        $st = $s->storage('alice');
        file_put_contents($st->getLocalFile('files/Offices/scanned.txt'), 'found by a scan');
        $st->getScanner()->scanFile('files/Offices/scanned.txt');
        $raw = array_map(fn ($c) => "{$c['kind']} {$c['folder']}/{$c['path']}", recorded_changes($s->get(Config::class)->stateDir()));
        $this->assertSame('write docs/scanned.txt', end($raw));
        $this->assertCount(4, $raw);
    }

    public function testAUsersFoldersNamedLikeNextcloudsStorageAreasSync(): void
    {
        // uploads, cache, files_versions... are areas of a user's storage,
        // not of a mapped folder: folders of those names inside one sync.
        $s = $this->server();
        $s->write('alice', '/Offices/uploads/holiday.jpg', 'a photo');
        $s->write('alice', '/Offices/cache/notes.txt', 'notes');
        $s->write('alice', '/Offices/files_versions/plan.txt', 'a plan');
        $s->write('alice', '/Offices/uploads/film.mkv.part', 'an upload in progress');
        $this->assertSame([
            'write docs/uploads/holiday.jpg',
            'write docs/cache/notes.txt',
            'write docs/files_versions/plan.txt',
        ], $this->outbox($s));
        $this->assertNull(PathFilter::ignoredInFolder('uploads/holiday.jpg'));
        $this->assertSame('a .part upload', PathFilter::ignoredInFolder('uploads/film.mkv.part'));
    }

    public function testDeletingAFolderDeletesEachOfItsFilesWithoutWaitingForAScan(): void
    {
        $s = $this->server();
        $s->write('alice', '/Offices/old/a.txt', 'a');
        $s->write('alice', '/Offices/old/deep/b.txt', 'b');
        $s->delete('alice', '/Offices/old');
        $out = $this->outbox($s);
        $this->assertContains('delete docs/old/a.txt', $out);
        $this->assertContains('delete docs/old/deep/b.txt', $out);
        // No Client::scan from the request (it would wait for the daemon's scan, or log that none runs).
        $this->assertSame([], array_filter($s->log(), fn ($l) => $l['level'] !== 'debug'), 'nothing logged');
    }

    public function testTrashVersionsAppdataAndPartFilesAreNeverSynced(): void
    {
        $this->assertSame('in the trash bin', PathFilter::ignored('files_trashbin/files/a.txt.d1700000000'));
        $this->assertSame('in the trash bin', PathFilter::ignored('/alice/files_trashbin/files/a.txt.d1700000000'));
        $this->assertSame('a file version', PathFilter::ignored('/alice/files_versions/a.txt.v1700000000'));
        $this->assertSame('app data', PathFilter::ignored('appdata_oc123/preview/1/2.png'));
        $this->assertSame('a .part upload', PathFilter::ignored('files/Offices/film.mkv.ocTransferId42.part'));
        $this->assertSame('a chunked upload', PathFilter::ignored('/alice/uploads/web-file-upload-1/00001'));
        $this->assertNull(PathFilter::ignored('files/uploads/holiday.jpg'), "a user's own folder named uploads syncs");
        $this->assertNull(PathFilter::ignored('/alice/files/Offices/report.txt'));
        // Harp's reserved names: exactly its temporary files, at any depth.
        $tmp = '.harp-tmp-' . str_repeat('0123456789abcdef', 2);
        $this->assertSame("Harp's own temporary file", PathFilter::ignored("/alice/files/Offices/sub/$tmp"));
        $this->assertSame('a .part upload', PathFilter::ignored("/alice/files/Offices/$tmp.part"));
        $this->assertNull(PathFilter::ignored('/alice/files/Offices/.harpoon-notes.txt'), 'a user file that starts with .harp syncs');
        $this->assertNull(PathFilter::ignored('/alice/files/Offices/.harp-tmp-notes.txt'));
    }

    public function testAFailedRenameIsLoggedAndStillReachesTheOutboxAsDeleteAndWrite(): void
    {
        // The bridge is replaced before the mapping: mapping creates the folder, whose events build the listener.
        $s = Server::boot(Nc::server());
        $real = new HarpBridge($s->get(Config::class)->stateDir());
        // A bridge whose renames fail, as a node refusing one would.
        $s->container->set(Bridge::class, new class ($real) implements Bridge {
            public function __construct(private Bridge $real)
            {
            }
            public function available(): bool { return true; }
            public function notify(string $folderId, string $path, string $kind = 'write', ?string $from = null): void
            {
                if ($kind === 'rename') {
                    throw new \RuntimeException('rename refused for the test');
                }
                $this->real->notify($folderId, $path, $kind, $from);
            }
            public function status(): array { return $this->real->status(); }
            public function peers(): array { return []; }
            public function trust(string $deviceId, array $addresses = []): void {}
            public function untrust(string $deviceId): void {}
            public function addFolder(string $folderId, string $localPath, ?array $devices = null): void {}
            public function shareFolder(string $folderId, string $deviceId): void {}
            public function unshareFolder(string $folderId, string $deviceId): void {}
            public function folders(): array { return []; }
            public function scan(string $folderId): array { return []; }
            public function verify(string $folderId): array { return []; }
        });
        $s->get(FolderMap::class)->add('docs', 'alice', '/Offices');
        $s->write('alice', '/Offices/a.txt', 'a');
        $s->rename('alice', '/Offices/a.txt', '/Offices/b.txt'); // must not throw
        $this->assertContains('delete docs/a.txt', $this->outbox($s));
        $this->assertContains('write docs/b.txt', $this->outbox($s));
        $errors = array_values(array_filter($s->log(), fn ($l) => $l['level'] === 'error'));
        $this->assertCount(1, $errors);
        $this->assertStringContainsString("could not notify rename of 'b.txt' in folder 'docs': rename refused", $errors[0]['message']);
        $this->assertSame('RuntimeException', $errors[0]['exception']);
    }

    public function testAListenerNeverThrowsIntoNextcloud(): void
    {
        // The bridge is replaced before the mapping: mapping creates the folder, whose events build the listener.
        $s = Server::boot(Nc::server());
        $s->container->set(Bridge::class, new class () implements Bridge {
            public function available(): bool { return true; }
            public function notify(string $folderId, string $path, string $kind = 'write', ?string $from = null): void { throw new \Error('broken'); }
            public function status(): array { throw new \Error('broken'); }
            public function peers(): array { throw new \Error('broken'); }
            public function trust(string $deviceId, array $addresses = []): void {}
            public function untrust(string $deviceId): void {}
            public function addFolder(string $folderId, string $localPath, ?array $devices = null): void {}
            public function shareFolder(string $folderId, string $deviceId): void {}
            public function unshareFolder(string $folderId, string $deviceId): void {}
            public function folders(): array { return []; }
            public function scan(string $folderId): array { throw new \Error('broken'); }
            public function verify(string $folderId): array { return []; }
        });
        $s->get(FolderMap::class)->add('docs', 'alice', '/Offices');
        $s->write('alice', '/Offices/a.txt', 'a');
        $s->rename('alice', '/Offices/a.txt', '/Offices/b.txt');
        $s->delete('alice', '/Offices/b.txt');
        $this->assertGreaterThanOrEqual(3, count(array_filter($s->log(), fn ($l) => $l['level'] === 'error' && str_contains($l['message'], 'broken'))));
        $this->assertFileDoesNotExist("{$s->root}/data/alice/files/Offices/b.txt", 'the request itself went through');
    }

    public function testTheLegacyPostWriteHookSharesTheListenersPath(): void
    {
        $root = Nc::server();
        Nc::setConfig($root, 'legacy_hook', 'yes');
        $s = Server::boot($root);
        $s->get(FolderMap::class)->add('docs', 'alice', '/Offices');
        $s->get(\OCP\IUserSession::class)->user = new Fake\User('alice');
        file_put_contents("$root/data/alice/files/Offices/legacy.txt", 'written through OC_Filesystem');
        // What OC\Files\View emits after a write: the path in the user's files.
        Util::emitHook('OC_Filesystem', 'post_write', ['path' => '/Offices/legacy.txt']);
        Util::emitHook('OC_Filesystem', 'post_write', ['path' => '/Offices/x.part']);
        $this->assertSame(['write docs/legacy.txt'], $this->outbox($s));
    }

    public function testRegisterIsLazyAndDeclaresEveryListener(): void
    {
        $s = Server::boot(Nc::server());
        $this->assertFalse($s->container->built(Bridge::class), 'register() built no bridge and no Harp\Client');
        $this->assertSame(\OCA\Harp\AppInfo\Application::FILE_EVENTS, array_column($s->registration->listeners, 0));
        $this->assertSame([\OCA\Harp\Listener\FileEventListener::class], array_values(array_unique(array_column($s->registration->listeners, 1))));
        $this->assertDirectoryDoesNotExist("{$s->root}/data/harp", 'nothing touched the state directory');
        Env::rmTree($s->root);
    }
}
