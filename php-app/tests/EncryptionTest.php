<?php

declare(strict_types=1);

namespace OCA\Harp\Tests;

use Harp\Client;
use Harp\Tests\Env;
use OCA\Harp\Config;
use OCA\Harp\FolderMap;
use OCA\Harp\Tests\Fake\Server;
use PHPUnit\Framework\TestCase;

/**
 * Storage Harp cannot sync: server-side encryption (the files on disk are
 * ciphertext) and object storage as primary storage (no files on disk) are
 * refused with a message that says why; encryption turned on after a
 * folder was mapped pauses the folder instead of shipping ciphertext.
 */
final class EncryptionTest extends TestCase
{
    public function testEncryptionAndObjectStorageAreRefusedSayingWhy(): void
    {
        $root = Nc::server();
        mkdir("$root/data/olga/files", 0777, true);
        $s = Server::boot($root, ['alice', 'olga']);
        $s->useObjectStorage('olga');
        try {
            $s->get(FolderMap::class)->add('s3', 'olga', '/Offices');
            $this->fail('a folder on object storage was mapped');
        } catch (\InvalidArgumentException $e) {
            $this->assertStringContainsString("'/Offices' is on object storage (object::user:olga): Nextcloud keeps its files in S3 or Swift objects, not in a folder on disk", $e->getMessage());
        }
        Nc::setConfig($root, 'encryption_enabled', 'yes', 'core');
        [$code, $out] = Nc::occ($root, ['harp:folder:add', 'docs', 'alice', '/Offices']);
        $this->assertSame(1, $code);
        $this->assertStringContainsString("'/Offices' cannot be synced: server-side encryption is enabled: the files on disk are encrypted, and Harp would send the ciphertext to its peers", $out);
        $this->assertSame([], Server::boot($root)->get(FolderMap::class)->all(), 'nothing mapped');
    }

    public function testEncryptionTurnedOnLaterPausesTheFolderUntilItIsOffAgain(): void
    {
        [$a, $b, $pa, $pb] = Nc::pair();
        try {
            $clientB = new Client(Server::boot($b)->get(Config::class)->stateDir());

            // occ encryption:enable on B.
            Nc::setConfig($b, 'encryption_enabled', 'yes', 'core');
            Env::waitUntil(fn () => str_starts_with((string) (Nc::occJson($b, ['harp:folder:list'])[0]['state'] ?? ''), 'paused: server-side encryption is enabled'), 20, "B's daemon to pause the folder");
            $nb = Server::boot($b); // a request after the pause
            $folder = array_column($clientB->folders(), null, 'id')['docs'];
            $this->assertSame([[], false], [$folder['devices'], $folder['all_devices']], 'paused: shared with no device');
            $this->assertTrue(array_filter($nb->log(), fn ($l) => $l['level'] === 'error' && str_contains($l['message'], "folder 'docs' is paused: server-side encryption is enabled")) !== []);
            // A write in B (ciphertext on a real server) is not notified.
            $notified = function () use ($clientB): int {
                $st = $clientB->status();
                return $st['changes'] + $st['outbox'];
            };
            $before = $notified();
            $nb->write('alice', '/Offices/secret.txt', 'would be ciphertext');
            $this->assertSame($before, $notified(), 'the listener sent nothing (a notify lands in the outbox at once)');

            // A writes meanwhile; once B turns encryption off, the folder resumes and A's file arrives.
            $na = Server::boot($a);
            $na->write('alice', '/Offices/from-a.txt', 'written while B was paused');
            Nc::setConfig($b, 'encryption_enabled', 'no', 'core');
            Env::waitUntil(fn () => @file_get_contents("$b/data/alice/files/Offices/from-a.txt") === 'written while B was paused', 30, 'the folder to resume and sync');
            $this->assertSame('syncing', Nc::occJson($b, ['harp:folder:list'])[0]['state']);
        } finally {
            Nc::stop($pa, $pb);
        }
    }
}
