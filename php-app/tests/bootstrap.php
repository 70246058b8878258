<?php
/**
 * Bootstrap of the app's PHPUnit suite: the stand-ins and the app (see
 * autoload.php), plus the Harp test helpers (Env, Process, recorded_changes)
 * from the extension's own suite, and Nc: stand-in Nextcloud servers in temp
 * directories, their `occ` and `occ harp:daemon` as real child processes.
 */

declare(strict_types=1);

namespace OCA\Harp\Tests;

require_once __DIR__ . '/autoload.php';
require_once dirname(__DIR__, 2) . '/tests/php/bootstrap.php';

use Harp\Tests\Env;
use Harp\Tests\Process;

final class Nc
{
    /** php -n with the extensions Nextcloud's occ needs here, harp (or not), mDNS off, loopback only. */
    public static function php(bool $withHarp = true): array
    {
        return [...Env::php($withHarp), '-d', 'extension=simplexml', '-d', 'extension=mbstring', '-d', 'extension=ctype', '-d', 'extension=intl'];
    }

    /** A fresh stand-in server directory with user alice. */
    public static function server(): string
    {
        $root = Env::tempDir();
        mkdir("$root/data/alice/files", 0777, true);
        return $root;
    }

    /** @return array{0: int, 1: string, 2: string} */
    public static function occ(string $root, array $args, bool $withHarp = true): array
    {
        return Process::start([...self::php($withHarp), __DIR__ . '/occ', ...$args], ['HARPBRIDGE_NC' => $root])->wait(60);
    }

    /** @return array occ's JSON output (--output=json) */
    public static function occJson(string $root, array $args): array
    {
        [, $out, $err] = self::occ($root, [...$args, '--output=json']);
        $j = json_decode($out, true);
        if (!is_array($j)) {
            throw new \RuntimeException("occ " . implode(' ', $args) . " did not print JSON: $out $err");
        }
        return $j;
    }

    /** Starts `occ harp:daemon -v` and waits until it serves. */
    public static function daemon(string $root): Process
    {
        $p = Process::start([...self::php(), __DIR__ . '/occ', 'harp:daemon', '-v'], ['HARPBRIDGE_NC' => $root]);
        Env::waitUntil(fn () => str_contains($p->stdout(), 'serving') || !$p->running(), 30, 'harp:daemon to start');
        if (!$p->running()) {
            throw new \RuntimeException('harp:daemon failed: ' . $p->stdout() . $p->stderr());
        }
        return $p;
    }

    /**
     * Two stand-in servers with alice's $folders (id => path in her files)
     * mapped on both, their daemons running and trusting each other.
     * @return array{0: string, 1: string, 2: Process, 3: Process} the servers' directories and daemons
     */
    public static function pair(array $folders = ['docs' => '/Offices']): array
    {
        $roots = [self::server(), self::server()];
        foreach ($roots as $root) {
            foreach ($folders as $id => $path) {
                [$code, $out, $err] = self::occ($root, ['harp:folder:add', $id, 'alice', $path]);
                if ($code !== 0) {
                    throw new \RuntimeException("harp:folder:add $id: $out $err");
                }
            }
        }
        $daemons = [self::daemon($roots[0]), self::daemon($roots[1])];
        $status = [self::occJson($roots[0], ['harp:status']), self::occJson($roots[1], ['harp:status'])];
        foreach ([[0, 1], [1, 0]] as [$me, $other]) {
            [$code, $out] = self::occ($roots[$me], ['harp:trust', $status[$other]['device_id'], $status[$other]['listen']]);
            if ($code !== 0) {
                throw new \RuntimeException("harp:trust: $out");
            }
        }
        return [$roots[0], $roots[1], $daemons[0], $daemons[1]];
    }

    /** Stops the daemons that still run (SIGTERM, then waits for them). */
    public static function stop(Process ...$daemons): void
    {
        foreach ($daemons as $p) {
            if ($p->running()) {
                $p->signal(SIGTERM);
                $p->wait(30);
            }
        }
    }

    /** Whether the stand-in server logged a message containing $needle. */
    public static function logged(\OCA\Harp\Tests\Fake\Server $s, string $needle): bool
    {
        return array_filter($s->log(), fn ($l) => str_contains($l['message'], $needle)) !== [];
    }

    /** Sets an app config value the way `occ config:app:set harpbridge` would. */
    public static function setConfig(string $root, string $key, string $value, string $app = 'harpbridge'): void
    {
        $f = "$root/config.json";
        $all = is_file($f) ? json_decode((string) file_get_contents($f), true) : [];
        $all[$app][$key] = $value;
        file_put_contents($f, json_encode($all), LOCK_EX);
    }
}
