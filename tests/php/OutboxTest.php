<?php

declare(strict_types=1);

namespace Harp\Tests;

use Harp\Client;
use PHPUnit\Framework\TestCase;

/** The durable outbox: notifies with no owner, and owners killed mid-intake. */
final class OutboxTest extends TestCase
{
    public function testNotifiesWithNoOwnerWaitAndAreTakenInOrderWhenOneStarts(): void
    {
        $dir = Env::tempDir() . '/state';
        [$code, , $err] = Env::runPhp(<<<'PHP'
            $c = new Harp\Client($argv[1]);
            for ($i = 0; $i < 500; $i++) { $c->notify('docs', "f/$i.txt"); }
            PHP, [$dir]);
        $this->assertSame(0, $code, $err);
        $s = (new Client($dir))->status();
        $this->assertFalse($s['running']);
        $this->assertSame(500, $s['outbox']);

        $owner = new Owner($dir);
        Env::waitUntil(fn () => (new Client($dir))->status()['outbox'] === 0, 10, 'the owner to take the outbox');
        $this->assertSame(500, (new Client($dir))->status()['changes']);
        $owner->stop();

        $paths = array_column(recorded_changes($dir), 'path');
        $this->assertSame(array_map(fn ($i) => "f/$i.txt", range(0, 499)), $paths);
    }

    public function testSigkillOfTheOwnerAtRandomMomentsLosesAndDuplicatesNothing(): void
    {
        $dir = Env::tempDir() . '/state';
        $writers = 2;
        $perWriter = 3000;
        // Writers run the whole time, owner or not.
        $procs = [];
        for ($w = 0; $w < $writers; $w++) {
            $procs[] = Process::start([...Env::php(), Env::script(<<<'PHP'
                $c = new Harp\Client($argv[1]);
                for ($i = 0; $i < (int) $argv[3]; $i++) {
                    $c->notify('docs', "w{$argv[2]}/$i");
                    if ($i % 100 === 0) { usleep(2000); }
                }
                PHP), $dir, (string) $w, (string) $perWriter]);
        }
        // Meanwhile owners come up and are killed with SIGKILL.
        for ($round = 0; $round < 6; $round++) {
            $owner = new Owner($dir);
            usleep(random_int(1_000, 80_000));
            $owner->proc->kill();
        }
        foreach ($procs as $p) {
            [$code, , $err] = $p->wait(120);
            $this->assertSame(0, $code, $err);
        }

        $changes = recorded_changes($dir);
        $this->assertCount($writers * $perWriter, $changes, 'none lost, none duplicated');
        $seqs = array_column($changes, 'seq');
        $this->assertSame(range(1, count($changes)), $seqs);
        // Each writer's notifies keep their order.
        for ($w = 0; $w < $writers; $w++) {
            $mine = array_values(array_filter(array_column($changes, 'path'), fn ($p) => str_starts_with($p, "w$w/")));
            $this->assertSame(array_map(fn ($i) => "w$w/$i", range(0, $perWriter - 1)), $mine);
        }
    }
}
