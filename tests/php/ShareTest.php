<?php

declare(strict_types=1);

namespace Harp\Tests;

use Harp\Client;
use PHPUnit\Framework\TestCase;

/**
 * A folder goes only to the devices it is shared with: three real nodes
 * (`harp serve` processes on loopback). A shares `sales` with B and C, `hr`
 * with C only, and `notes` with B only. B and C connect to A only, so
 * whatever reaches B came from A. (C trusts B's ID, so that the entries B
 * writes can reach C through A: a device takes entries only from authors
 * it trusts. C shares its hr with A only.)
 *
 * What B must not get is checked after something that travels the same way
 * later has arrived: A pushes to a peer in commit order, one batch after the
 * other, so once B holds a file A wrote after the hr one, A has already
 * decided about the hr one.
 */
final class ShareTest extends TestCase
{
    /** @var list<Process> */
    private array $procs = [];

    protected function tearDown(): void
    {
        foreach ($this->procs as $p) {
            $p->kill();
        }
    }

    /** @return array{0: Process, 1: Client, 2: string, 3: string} process, client, device id, address */
    private function node(string $name): array
    {
        $dir = Env::tempDir();
        $p = Process::start([...Env::php(), Env::root() . '/bin/harp', 'serve', '--state-dir', $dir, '--name', $name, '--no-mdns', '--listen', '127.0.0.1:0']);
        $this->procs[] = $p;
        Env::waitUntil(fn () => str_contains($p->stdout(), 'serving') || !$p->running(), 30, "$name to start");
        $this->assertTrue($p->running(), $p->stderr());
        $c = new Client($dir);
        $s = $c->status();
        return [$p, $c, $s['device_id'], $s['listen']];
    }

    private function peer(Client $c, string $id): array
    {
        foreach ($c->peers() as $p) {
            if ($p['device_id'] === $id) {
                return $p;
            }
        }
        return ['connected' => false, 'refused' => 0, 'recent_refused' => []];
    }

    /** @return array<string, array> folders() by id */
    private function folders(Client $c): array
    {
        return array_column($c->folders(), null, 'id');
    }

    /** Every file under $dir, relative, sorted: what a user sees on that disk. */
    private static function files(string $dir): array
    {
        $out = [];
        $it = new \RecursiveIteratorIterator(new \RecursiveDirectoryIterator($dir, \FilesystemIterator::SKIP_DOTS));
        foreach ($it as $f) {
            $out[] = substr($f->getPathname(), strlen($dir) + 1);
        }
        sort($out);
        return $out;
    }

    /** Writes $path in folder $folder (directory $dir) on a node and notifies it, as a hook would. */
    private static function write(Client $c, string $dir, string $folder, string $path, string $body): void
    {
        file_put_contents("$dir/$path", $body);
        $c->notify($folder, $path);
    }

    public function testAFolderReachesOnlyTheDevicesItIsSharedWithAndTakesChangesOnlyFromThem(): void
    {
        [, $a, $ida] = $this->node('office-a');
        [, $b, $idb, $addrb] = $this->node('office-b');
        [, $c, $idc, $addrc] = $this->node('office-c');
        $d = [];
        foreach (['a/sales', 'a/hr', 'a/notes', 'b/sales', 'b/notes', 'b/hr', 'c/sales', 'c/hr'] as $k) {
            $d[$k] = Env::tempDir();
        }
        $a->addFolder('sales', $d['a/sales'], ['devices' => [$idb, $idc]]);
        $a->addFolder('hr', $d['a/hr'], ['devices' => [$idc]]);
        $a->addFolder('notes', $d['a/notes'], ['devices' => [$idb]]);
        $b->addFolder('sales', $d['b/sales']);
        $b->addFolder('notes', $d['b/notes']);
        $c->addFolder('sales', $d['c/sales']);
        $c->trust($idb); // an ID, no address: they never meet
        $c->addFolder('hr', $d['c/hr'], ['devices' => [$ida]]);
        $fa = $this->folders($a);
        $this->assertSame([false, [$idc]], [$fa['hr']['all_devices'], $fa['hr']['devices']]);
        $this->assertEqualsCanonicalizing([$idb, $idc], $fa['sales']['devices']);

        // Made while apart: sent on connect, to whom it is shared with.
        self::write($a, $d['a/hr'], 'hr', 'before.txt', 'hr, written before the offices met');
        self::write($a, $d['a/sales'], 'sales', 'before.txt', 'sales, written before the offices met');
        Env::waitUntil(fn () => $a->status()['entries'] === 2, 10, 'A to record both');
        $b->trust($ida);
        $c->trust($ida);
        $a->trust($idb, [$addrb]);
        $a->trust($idc, [$addrc]);
        Env::waitUntil(fn () => $this->peer($a, $idb)['connected'] && $this->peer($a, $idc)['connected'], 20, 'A to connect to B and C');

        // Live: hr first, then sales.
        self::write($a, $d['a/hr'], 'hr', 'salaries.txt', 'who earns what');
        self::write($a, $d['a/sales'], 'sales', 'after-hr.txt', 'written after salaries.txt');
        $has = fn (string $where, array $files) => array_filter($files, fn ($body, $f) => @file_get_contents("{$d[$where]}/$f") !== $body, ARRAY_FILTER_USE_BOTH) === [];
        Env::waitUntil(fn () => $has('c/hr', ['before.txt' => 'hr, written before the offices met', 'salaries.txt' => 'who earns what'])
            && $has('c/sales', ['before.txt' => 'sales, written before the offices met', 'after-hr.txt' => 'written after salaries.txt'])
            && $has('b/sales', ['before.txt' => 'sales, written before the offices met', 'after-hr.txt' => 'written after salaries.txt']), 30, 'hr on C, and sales, written after it, on B and C');
        $this->assertSame(['before.txt', 'salaries.txt'], self::files($d['c/hr']));
        $this->assertSame(['after-hr.txt', 'before.txt'], self::files($d['c/sales']));
        $this->assertSame(['after-hr.txt', 'before.txt'], self::files($d['b/sales']));
        // B never got hr: no file, no entry, and nothing B had to throw away (A did not send it).
        $this->assertSame([], self::files($d['b/notes']));
        $this->assertSame([], $b->history('hr', 'salaries.txt'));
        $this->assertSame([], $b->history('hr', 'before.txt'));
        $this->assertSame(2, $b->status()['entries'], 'the two sales entries, and nothing of hr');
        $this->assertSame(['notes', 'sales'], array_keys($this->folders($b)));
        $this->assertSame(0, $this->peer($b, $ida)['refused'], json_encode($this->peer($b, $ida)));
        $this->assertSame(4, $c->status()['entries']);

        // B makes an hr folder of its own (shared, on its side, with every
        // trusted device: A) and writes into it. A's hello does not list hr
        // for B, so B does not even send it (a device that sent it anyway
        // would be refused: engine::tests::a_folder_goes_only_to_the_devices_
        // it_is_shared_with_and_its_chain_stands_alone).
        $b->addFolder('hr', $d['b/hr']);
        self::write($b, $d['b/hr'], 'hr', 'from-b.txt', 'B trying to write into hr');
        // Had A taken it, it would be on A's disk and pushed to C before this later hr file;
        // and now that B has an hr folder that takes A's entries, A still sends it none.
        self::write($a, $d['a/hr'], 'hr', 'after-b.txt', 'written after B tried');
        self::write($a, $d['a/notes'], 'notes', 'n1.txt', 'for B, after the hr file');
        Env::waitUntil(fn () => @file_get_contents("{$d['c/hr']}/after-b.txt") === 'written after B tried'
            && @file_get_contents("{$d['b/notes']}/n1.txt") === 'for B, after the hr file', 30, 'the later hr file on C and the later notes file on B');
        $this->assertSame(['after-b.txt', 'before.txt', 'salaries.txt'], self::files($d['a/hr']));
        $this->assertSame(['after-b.txt', 'before.txt', 'salaries.txt'], self::files($d['c/hr']));
        $this->assertSame([], $a->history('hr', 'from-b.txt'));
        $this->assertSame([], $c->history('hr', 'from-b.txt'));
        $this->assertSame(['from-b.txt'], self::files($d['b/hr']));
        $this->assertSame([], $b->history('hr', 'after-b.txt'));
        $this->assertSame(0, $this->peer($b, $ida)['refused'], 'A sent B nothing of hr');
        $this->assertSame(0, $this->peer($a, $idb)['refused'], 'B sent A nothing of hr: A does not take it from B');

        // A stops sharing sales with B: a later sales file reaches C, not B.
        $a->unshareFolder('sales', $idb);
        $this->assertSame([false, [$idc]], [$this->folders($a)['sales']['all_devices'], $this->folders($a)['sales']['devices']]);
        self::write($a, $d['a/sales'], 'sales', 'after-unshare.txt', 'for C only now');
        self::write($a, $d['a/notes'], 'notes', 'n2.txt', 'for B, after the sales file');
        // And what B writes in sales from now on does not reach A.
        self::write($b, $d['b/sales'], 'sales', 'from-b-late.txt', 'B, after the unshare');
        // B then writes in notes, which A does take from B: once that is on
        // A, B's sales entry before it would have been too.
        self::write($b, $d['b/notes'], 'notes', 'n3.txt', 'from B, after its sales file');
        Env::waitUntil(fn () => @file_get_contents("{$d['c/sales']}/after-unshare.txt") === 'for C only now'
            && @file_get_contents("{$d['b/notes']}/n2.txt") === 'for B, after the sales file'
            && @file_get_contents("{$d['a/notes']}/n3.txt") === 'from B, after its sales file', 30, 'the sales file on C, the notes file on B, and B\'s notes file on A');
        $this->assertSame(['after-hr.txt', 'before.txt', 'from-b-late.txt'], self::files($d['b/sales']));
        $this->assertSame([], $b->history('sales', 'after-unshare.txt'));
        $this->assertFileDoesNotExist("{$d['a/sales']}/from-b-late.txt");
        $this->assertSame([], $a->history('sales', 'from-b-late.txt'));

        // Shared again: what B missed arrives at once, and B's change is taken.
        $a->shareFolder('sales', $idb);
        $this->assertEqualsCanonicalizing([$idb, $idc], $this->folders($a)['sales']['devices']);
        Env::waitUntil(fn () => @file_get_contents("{$d['b/sales']}/after-unshare.txt") === 'for C only now'
            && @file_get_contents("{$d['a/sales']}/from-b-late.txt") === 'B, after the unshare', 30, 'the missed files both ways');
        Env::waitUntil(fn () => @file_get_contents("{$d['c/sales']}/from-b-late.txt") === 'B, after the unshare', 30, 'B\'s sales file on C, through A');
    }

    /**
     * Each folder's entries are chains of their own (format 2): an author
     * writing in two folders in turn makes two chains, and verify checks
     * each folder's on its own, as a device sent only one of them must.
     */
    public function testVerifyChecksEachFolderOnItsOwnWhenOneAuthorWritesInSeveral(): void
    {
        $n = new \Harp\Node(Env::tempDir());
        $d = ['sales' => Env::tempDir(), 'hr' => Env::tempDir()];
        foreach ($d as $id => $dir) {
            $n->addFolder($id, $dir);
        }
        for ($i = 1; $i <= 3; $i++) {
            foreach ($d as $id => $dir) {
                file_put_contents("$dir/$i.txt", "$id $i");
                $this->assertSame(1, $n->scan($id)['entries']);
            }
        }
        foreach (array_keys($d) as $id) {
            $this->assertSame([1, 2, 3], array_map(fn (int $i) => $n->history($id, "$i.txt")[0]['seq'], [1, 2, 3]), "$id: seq counts per folder");
            $v = $n->verify($id);
            $this->assertSame([true, 3, []], [$v['ok'], $v['checked'], $v['problems']], "verify $id");
        }
    }
}
