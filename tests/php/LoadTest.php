<?php

declare(strict_types=1);

namespace Harp\Tests;

use PHPUnit\Framework\TestCase;

/**
 * Load with faults: php-fpm (4 workers) takes 50,000 hook requests while the
 * owner is killed and started again three times. Every notify is recorded,
 * exactly once; the hook's latency stays in microseconds, owner or not.
 *
 * HARP_LOAD_REQUESTS overrides the number of requests (default 50,000).
 */
final class LoadTest extends TestCase
{
    public function testFiftyThousandNotifiesFromFpmWhileTheOwnerIsRestartedThreeTimes(): void
    {
        $t0 = microtime(true);
        $total = (int) (getenv('HARP_LOAD_REQUESTS') ?: 50_000);
        $total -= $total % 4;
        $state = Env::tempDir() . '/state';
        $owner = new Owner($state);
        $fpm = new Fpm(true);
        $gens = [];
        try {
            $gens = loadgen_start($fpm, $state, $total);
            // Restart the owner when the load is a quarter, half and three
            // quarters done: SIGKILL twice (mid-intake, most likely), SIGTERM once.
            $restarts = [];
            foreach ([0.25, 0.5, 0.75] as $k => $share) {
                Env::waitUntil(fn () => substr_count($gens[0]->stdout(), "\n") >= $share * $total / 4 || !$gens[0]->running(), 300, "$share of the load");
                if ($k === 1) {
                    $owner->stop();
                } else {
                    $owner->proc->kill();
                }
                $down = microtime(true);
                usleep(200_000); // a moment with no owner at all
                $owner = new Owner($state);
                $restarts[] = round(microtime(true) - $down, 2);
            }
            $rows = loadgen_rows($gens);
        } finally {
            foreach ($gens as $p) {
                $p->kill();
            }
            $fpm->stop();
        }
        $loadTime = microtime(true) - $t0;
        $this->assertCount(3, $restarts, 'three restarts while the load ran');
        $this->assertCount($total, $rows, 'every request answered');
        $this->assertSame([1], array_values(array_unique(array_column($rows, 'threads'))), 'workers stay single-threaded');

        $notify = array_column($rows, 'notify_ns');
        measure("load: notify p50 (php-fpm, 4 workers, $total requests, 3 owner restarts)", round(percentile($notify, 50) / 1000, 1), 'µs');
        measure("load: notify p99 (php-fpm, 4 workers, $total requests, 3 owner restarts)", round(percentile($notify, 99) / 1000, 1), 'µs');
        measure('load: notify max', round(max($notify) / 1000, 1), 'µs');
        measure("load: $total requests through php-fpm", round($loadTime, 1), 's');

        Env::waitUntil(fn () => (new \Harp\Client($state))->status()['changes'] === $total, 60, 'the owner to take every notify');
        $owner->stop();
        $paths = array_column(recorded_changes($state), 'path');
        $this->assertCount($total, $paths, 'changes recorded = changes notified: none duplicated');
        $want = array_map(fn ($i) => "f/$i.txt", range(0, $total - 1));
        sort($paths);
        sort($want);
        $this->assertSame($want, $paths, 'none lost');
        measure('load: test time', round(microtime(true) - $t0, 1), 's');
    }
}
