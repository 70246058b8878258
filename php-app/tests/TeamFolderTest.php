<?php

declare(strict_types=1);

namespace OCA\Harp\Tests;

use OCA\Harp\Config;
use OCA\Harp\FolderMap;
use OCA\Harp\Tests\Fake\Server;
use PHPUnit\Framework\TestCase;

use function Harp\Tests\recorded_changes;

/**
 * Where offices keep their files, at the listener: group folders (a jail
 * over the root storage, mounted in every member's files) and received
 * shares (a jail over the owner's storage, mounted in the recipient's
 * files). Every member's and recipient's write, rename and delete reaches
 * the outbox under the mapped folder's paths; nothing outside it does.
 */
final class TeamFolderTest extends TestCase
{
    /** @return list<string> "kind folder/path [from]" of every change in the outbox, in order */
    private function outbox(Server $s): array
    {
        return array_map(fn ($c) => trim("{$c['kind']} {$c['folder']}/{$c['path']} {$c['from']}"), recorded_changes($s->get(Config::class)->stateDir()));
    }

    public function testEveryMembersChangesInAGroupFolderAndNothingOutsideItReachHarp(): void
    {
        $s = Server::boot(Nc::server(), ['alice', 'bob']);
        $s->addGroupFolder(7, 'Team', ['alice', 'bob']);
        $s->addGroupFolder(8, 'Other', ['alice', 'bob']);
        $s->addGroupFolder(17, 'Team17', ['alice']);
        $maps = $s->get(FolderMap::class);
        $team = $maps->add('team', 'alice', '/Team');
        // Where it really is: the root storage, under the jail.
        $this->assertSame(['__groupfolders/7', $s->rootFolder()->rootStorage()->getCache()->getNumericStorageId()], [$team->internalPath, $team->storageId]);
        $this->assertSame("{$s->root}/data/__groupfolders/7", $team->localPath);
        // A subfolder of another group folder, mapped through bob's mount.
        $maps->add('sub', 'bob', '/Other/sub');

        $s->write('bob', '/Team/plan.txt', 'bob wrote this');
        $s->write('alice', '/Team/budget.txt', 'alice wrote this');
        $s->rename('alice', '/Team/plan.txt', '/Team/plan-v2.txt');
        $s->delete('bob', '/Team/budget.txt');
        $s->write('alice', '/Other/sub/minutes.txt', 'in the mapped subfolder');
        $s->write('alice', '/Other/elsewhere.txt', 'outside every mapping');
        $s->write('alice', '/Team17/x.txt', 'group folder 17, not 7');
        $s->delete('alice', '/Other/elsewhere.txt');

        $this->assertSame([
            'write team/plan.txt',
            'write team/budget.txt',
            'rename team/plan-v2.txt plan.txt',
            'delete team/budget.txt',
            'write sub/minutes.txt',
        ], $this->outbox($s));
        // The delete went to the group folder's trash, whose cache event matched nothing.
        $this->assertNotEmpty(glob("{$s->root}/data/__groupfolders/trash/7/budget.txt.d*"));
        $this->assertSame([], array_filter($s->log(), fn ($l) => $l['level'] === 'error'), 'nothing failed');
    }

    public function testAShareRecipientsWriteRenameAndDeleteReachTheOwnersMapping(): void
    {
        $s = Server::boot(Nc::server(), ['alice', 'carol']);
        $s->get(FolderMap::class)->add('docs', 'alice', '/Offices');
        $s->write('alice', '/Offices/Shared/start.txt', 'shared with carol');
        $s->share('alice', '/Offices/Shared', 'carol', '/From Alice');

        $s->write('carol', '/From Alice/c.txt', 'carol wrote this');
        $s->rename('carol', '/From Alice/c.txt', '/From Alice/d.txt');
        $s->delete('carol', '/From Alice/start.txt');

        $this->assertSame([
            'write docs/Shared/start.txt',
            'write docs/Shared/c.txt',
            'rename docs/Shared/d.txt Shared/c.txt',
            'delete docs/Shared/start.txt',
        ], $this->outbox($s));
        $this->assertFileExists("{$s->root}/data/alice/files/Offices/Shared/d.txt");
        $this->assertNotEmpty(glob("{$s->root}/data/alice/files_trashbin/files/start.txt.d*"), "the recipient's delete went to the owner's trash");
        $this->assertArrayHasKey('files/Offices/Shared/d.txt', $s->cache('alice'));
        $this->assertArrayNotHasKey('files/Offices/Shared/c.txt', $s->cache('alice'));
    }

    public function testAShareOfAGroupFolderSubfolderResolvesThroughBothJails(): void
    {
        $s = Server::boot(Nc::server(), ['alice', 'dave']);
        $s->addGroupFolder(7, 'Team', ['alice']);
        $s->get(FolderMap::class)->add('team', 'alice', '/Team');
        $s->write('alice', '/Team/Reports/q1.txt', 'q1');
        $s->share('alice', '/Team/Reports', 'dave', '/Reports');
        $s->write('dave', '/Reports/q2.txt', 'dave, not a member, through the share');
        $this->assertSame(['write team/Reports/q1.txt', 'write team/Reports/q2.txt'], $this->outbox($s));
        $this->assertFileExists("{$s->root}/data/__groupfolders/7/Reports/q2.txt");
    }
}
