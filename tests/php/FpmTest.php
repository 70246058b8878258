<?php

declare(strict_types=1);

namespace Harp\Tests;

use PHPUnit\Framework\TestCase;

/** The process model under Debian's php-fpm: no threads before fork, nothing lost under load. */
final class FpmTest extends TestCase
{
    public function testNoThreadStartsInMinitOrInIdleWorkers(): void
    {
        $counts = [];
        $rss = [];
        foreach ([false, true] as $withHarp) {
            $fpm = new Fpm($withHarp);
            $pids = [$fpm->proc->pid, ...$fpm->workers()];
            $counts[$withHarp ? 'with' : 'without'] = array_map(fn ($p) => proc_field($p, 'Threads'), $pids);
            $rss[$withHarp ? 'with' : 'without'] = array_sum(array_map(fn ($p) => proc_field($p, 'VmRSS'), $fpm->workers())) / 4;
            if ($withHarp) {
                // A worker that served a hook call still runs one thread.
                $body = (new FastCgi($fpm->sock))->request(__DIR__ . '/support/notify.php', http_build_query(['i' => 1, 'dir' => Env::tempDir()]));
                $r = json_decode($body, true);
                $this->assertIsArray($r, "worker answered: $body");
                $this->assertSame(1, $r['threads']);
            }
            $fpm->stop();
        }
        $this->assertSame([1, 1, 1, 1, 1], $counts['without'], 'master + 4 workers, single-threaded');
        $this->assertSame($counts['without'], $counts['with'], 'the extension adds no thread to the master or to idle workers');
        measure('fpm threads (master + 4 workers) without harp', array_sum($counts['without']), 'threads');
        measure('fpm threads (master + 4 workers) with harp', array_sum($counts['with']), 'threads');
        measure('fpm idle worker RSS without harp', $rss['without'], 'kB');
        measure('fpm idle worker RSS with harp', $rss['with'], 'kB');
    }

    public function testIdleMemoryTheExtensionAddsToAPhpProcess(): void
    {
        $code = 'preg_match("/^VmRSS:\s+(\d+)/m", file_get_contents("/proc/self/status"), $m); echo $m[1];';
        $without = Process::start([...Env::php(false), '-r', $code])->wait()[1];
        $with = Process::start([...Env::php(true), '-r', $code])->wait()[1];
        $this->assertGreaterThan(0, (int) $without);
        $added = (int) $with - (int) $without;
        measure('idle RSS added to a PHP CLI process by harp.so', $added, 'kB');
        $this->assertLessThan(64 * 1024, $added, 'loading harp.so costs less than 64 MB resident');
    }

    public function testTenThousandNotifiesFromFourWorkersReachTheOwnerOnceEach(): void
    {
        $state = Env::tempDir() . '/state';
        $owner = new Owner($state);
        $fpm = new Fpm(true);
        $total = 10_000;
        $rows = loadgen_rows(loadgen_start($fpm, $state, $total));
        $fpm->stop();
        $this->assertCount($total, $rows, 'every request answered');
        $this->assertSame(range(0, $total - 1), (function () use ($rows) {
            $i = array_column($rows, 'i');
            sort($i);
            return $i;
        })());
        $this->assertCount(4, array_unique(array_column($rows, 'pid')), 'served by 4 workers');
        $this->assertSame([1], array_values(array_unique(array_column($rows, 'threads'))), 'workers stay single-threaded');

        $notify = array_column($rows, 'notify_ns');
        $hook = array_column($rows, 'total_ns');
        measure('notify p50 (php-fpm, 4 workers, 10k requests)', round(percentile($notify, 50) / 1000, 1), 'µs');
        measure('notify p99 (php-fpm, 4 workers, 10k requests)', round(percentile($notify, 99) / 1000, 1), 'µs');
        measure('new Client + notify p50', round(percentile($hook, 50) / 1000, 1), 'µs');
        measure('new Client + notify p99', round(percentile($hook, 99) / 1000, 1), 'µs');

        Env::waitUntil(fn () => (new \Harp\Client($state))->status()['changes'] === $total, 60, 'the owner to take every notify');
        $owner->stop();
        $paths = array_column(recorded_changes($state), 'path');
        $this->assertCount($total, $paths, 'none duplicated');
        sort($paths);
        $want = array_map(fn ($i) => "f/$i.txt", range(0, $total - 1));
        sort($want);
        $this->assertSame($want, $paths, 'none lost');
    }
}
