<?php
/**
 * LAN sync benchmark in network namespaces: two hosts on a bridge (no rate
 * limit), each running `harp serve` from the release build. Measures:
 *   - MB/s for one 1 GiB random file, A -> B;
 *   - the time for 10,000 files of 1-64 KiB in 100 folders, A -> B;
 *   - the p50/p90 latency from a notify on A to the complete 4 KiB file on B
 *     (20 runs).
 * Prints JSON lines. Run through bench/lan. Removes its namespaces at exit.
 */

declare(strict_types=1);

require __DIR__ . '/../tests/php/bootstrap.php';

use Harp\Tests\Env;
use Harp\Tests\Process;

$tag = 'hb' . bin2hex(random_bytes(3));
$namespaces = [];
$procs = [];
$sh = function (string $cmd): void {
    exec($cmd . ' 2>&1', $out, $rc);
    if ($rc !== 0) {
        throw new RuntimeException("$cmd: " . implode("\n", $out));
    }
};
register_shutdown_function(function () use (&$namespaces, &$procs) {
    foreach ($procs as $p) {
        $p->kill();
    }
    foreach (array_reverse($namespaces) as $ns) {
        exec("ip netns del $ns 2>&1");
    }
});
$addNs = function (string $name) use ($tag, &$namespaces, $sh): string {
    $ns = "$tag-$name";
    $sh("ip netns add $ns");
    $namespaces[] = $ns;
    $sh("ip netns exec $ns ip link set lo up");
    return $ns;
};
$br = $addNs('br');
$sh("ip netns exec $br ip link add br0 type bridge");
$sh("ip netns exec $br ip link set br0 up");
$host = function (string $name, int $n) use ($tag, $br, $addNs, $sh): string {
    $ns = $addNs($name);
    $v = "$tag$n";
    $sh("ip link add $v type veth peer name {$v}p");
    $sh("ip link set $v netns $ns");
    $sh("ip link set {$v}p netns $br");
    $sh("ip netns exec $br ip link set {$v}p master br0 up");
    $sh("ip netns exec $ns ip addr add 10.215.0.$n/24 dev $v");
    $sh("ip netns exec $ns ip link set $v up");
    return $ns;
};
$ns = ['a' => $host('a', 1), 'b' => $host('b', 2)];
$dirs = [];
$ids = [];
foreach (['a', 'b'] as $n) {
    $dirs[$n] = Env::tempDir();
    mkdir("{$dirs[$n]}/docs");
    $node = new Harp\Node("{$dirs[$n]}/state");
    $ids[$n] = $node->deviceId();
    $node->addFolder('docs', "{$dirs[$n]}/docs");
    unset($node);
}
(new Harp\Node("{$dirs['a']}/state"))->trust($ids['b'], ['10.215.0.2:4433']);
(new Harp\Node("{$dirs['b']}/state"))->trust($ids['a'], ['10.215.0.1:4433']);
foreach (['a', 'b'] as $n) {
    $p = Process::start(['ip', 'netns', 'exec', $ns[$n], ...Env::php(), '-d', 'harp.listen=0.0.0.0:4433',
        Env::root() . '/bin/harp', 'serve', '--quiet', '--state-dir', "{$dirs[$n]}/state", '--name', "bench-$n"]);
    $procs[] = $p;
    Env::waitUntil(fn () => str_contains($p->stdout(), 'serving'), 30, "$n to start");
}
$a = new Harp\Client("{$dirs['a']}/state");
Env::waitUntil(fn () => (bool) array_filter($a->peers(), fn ($p) => $p['connected']), 30, 'A and B to connect');
$report = fn (array $row) => print(json_encode($row) . "\n");

// 1. One 1 GiB file.
$mib = (int) (getenv('HARP_BENCH_MIB') ?: 1024);
$fh = fopen("{$dirs['a']}/docs/big.bin", 'wb');
for ($i = 0; $i < $mib; $i++) {
    fwrite($fh, random_bytes(1 << 20));
}
fclose($fh);
$t = microtime(true);
$a->notify('docs', 'big.bin');
Env::waitUntil(fn () => @filesize("{$dirs['b']}/docs/big.bin") === $mib << 20, 3600, 'the big file');
$s = microtime(true) - $t;
$hwm = (int) (preg_match('/^VmHWM:\s+(\d+)/m', (string) @file_get_contents('/proc/' . $procs[1]->pid . '/status'), $m) ? $m[1] : 0);
$report(['workload' => 'one file', 'mib' => $mib, 'seconds' => round($s, 2), 'MB_per_s' => round(($mib << 20) / $s / 1e6, 1),
    'receiver_peak_rss_mb' => round($hwm / 1024, 1)]);

// 2. 10,000 files of 1-64 KiB in 100 folders.
$count = (int) (getenv('HARP_BENCH_FILES') ?: 10000);
$bytes = 0;
for ($i = 0; $i < $count; $i++) {
    $d = "{$dirs['a']}/docs/small/d" . ($i % 100);
    @mkdir($d, 0777, true);
    $size = random_int(1024, 65536);
    $bytes += $size;
    file_put_contents("$d/f$i.bin", random_bytes($size));
}
$t = microtime(true);
$a->scan('docs');
$scanned = microtime(true) - $t;
Env::waitUntil(function () use ($dirs, $count) {
    $n = 0;
    foreach (glob("{$dirs['b']}/docs/small/d*", GLOB_ONLYDIR) as $d) {
        $n += count(glob("$d/f*.bin"));
    }
    return $n === $count;
}, 3600, 'the small files');
$s = microtime(true) - $t;
$report(['workload' => 'small files', 'files' => $count, 'mb' => round($bytes / 1e6, 1), 'seconds' => round($s, 2),
    'of_which_scan_on_a_s' => round($scanned, 2)]);

// 3. notify on A -> the complete 4 KiB file on B.
$lat = [];
for ($i = 0; $i < 20; $i++) {
    $content = random_bytes(4096);
    file_put_contents("{$dirs['a']}/docs/latency.bin", $content);
    $t = hrtime(true);
    $a->notify('docs', 'latency.bin');
    while (@file_get_contents("{$dirs['b']}/docs/latency.bin") !== $content) {
        usleep(200);
        if ((hrtime(true) - $t) > 30e9) {
            throw new RuntimeException('latency run timed out');
        }
    }
    $lat[] = (hrtime(true) - $t) / 1e6;
    usleep(100_000);
}
sort($lat);
$report(['workload' => 'notify to complete file on B, 4 KiB', 'runs' => 20, 'p50_ms' => round($lat[9], 2), 'p90_ms' => round($lat[17], 2), 'min_ms' => round($lat[0], 2)]);
