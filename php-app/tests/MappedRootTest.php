<?php

declare(strict_types=1);

namespace OCA\Harp\Tests;

use Harp\Tests\Env;
use OCA\Harp\Config;
use OCA\Harp\FolderMap;
use OCA\Harp\Tests\Fake\Server;
use PHPUnit\Framework\TestCase;

use function Harp\Tests\recorded_changes;

/**
 * A mapped folder, or a folder above one, cannot be deleted or moved
 * through Nextcloud: the operation is refused with the reason. Where
 * Nextcloud cannot be asked (the folder vanishes on disk), the daemon
 * reports it.
 */
final class MappedRootTest extends TestCase
{
    public function testDeletingOrMovingAMappedFolderIsRefusedWithTheReason(): void
    {
        $s = Server::boot(Nc::server());
        $maps = $s->get(FolderMap::class);
        $maps->add('docs', 'alice', '/Offices');
        $maps->add('deep', 'alice', '/Projects/2026/Site');
        $s->write('alice', '/Offices/a.txt', 'kept');
        $s->write('alice', '/Projects/2026/Site/plan.txt', 'kept too');

        $this->assertFalse($s->delete('alice', '/Offices'));
        $this->assertStringContainsString("'/alice/files/Offices' cannot be deleted: it holds the folder that Harp syncs as 'docs' (alice: /Offices). Unmap it first: occ harp:folder:remove docs", (string) $s->aborted);
        $this->assertFalse($s->rename('alice', '/Offices', '/Old offices'));
        $this->assertStringContainsString("cannot be moved or renamed: it holds the folder that Harp syncs as 'docs'", (string) $s->aborted);
        $this->assertFalse($s->delete('alice', '/Projects'), 'a folder above a mapped one');
        $this->assertStringContainsString("as 'deep'", (string) $s->aborted);
        $this->assertFileExists("{$s->root}/data/alice/files/Offices/a.txt");
        $this->assertFileExists("{$s->root}/data/alice/files/Projects/2026/Site/plan.txt");
        $this->assertContains('delete process aborted', array_column($s->log(), 'message'), 'logged as Nextcloud logs an aborted operation');

        // Inside a mapped folder everything goes on as before.
        $this->assertTrue($s->rename('alice', '/Offices/a.txt', '/Offices/b.txt'));
        $this->assertTrue($s->delete('alice', '/Offices/b.txt'));
        $changes = array_map(fn ($c) => "{$c['kind']} {$c['folder']}/{$c['path']}", recorded_changes($s->get(Config::class)->stateDir()));
        $this->assertSame(['write docs/a.txt', 'write deep/plan.txt', 'rename docs/b.txt', 'delete docs/b.txt'], $changes);
    }

    public function testTheDaemonReportsAMappedFolderThatVanishedOnDisk(): void
    {
        $root = Nc::server();
        [$code, $out] = Nc::occ($root, ['harp:folder:add', 'docs', 'alice', '/Offices']);
        $this->assertSame(0, $code, $out);
        $p = Nc::daemon($root);
        try {
            rename("$root/data/alice/files/Offices", "$root/data/alice/files/Moved away");
            $s = Server::boot($root);
            $gone = fn () => array_filter($s->log(), fn ($l) => $l['level'] === 'error' && str_contains($l['message'], "the folder mapped as 'docs' (alice: /Offices) is gone from Nextcloud") && str_contains($l['message'], 'occ harp:folder:remove docs'));
            Env::waitUntil(fn () => $gone() !== [], 20, 'the daemon to report the vanished folder');
            rename("$root/data/alice/files/Moved away", "$root/data/alice/files/Offices");
            Env::waitUntil(fn () => in_array("Harp: the folder mapped as 'docs' (alice: /Offices) is back", array_column($s->log(), 'message'), true), 20, 'the daemon to see it back');
            $this->assertCount(1, $gone(), 'reported once');
        } finally {
            $p->signal(SIGTERM);
            $p->wait(30);
        }
    }
}
