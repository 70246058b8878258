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

    /** Sets an app config value the way `occ config:app:set harpbridge` would. */
    public static function setConfig(string $root, string $key, string $value, string $app = 'harpbridge'): void
    {
        $f = "$root/config.json";
        $all = is_file($f) ? json_decode((string) file_get_contents($f), true) : [];
        $all[$app][$key] = $value;
        file_put_contents($f, json_encode($all), LOCK_EX);
    }
}
