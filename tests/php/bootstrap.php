<?php
/**
 * Test helpers: run real PHP processes with the real harp.so.
 *
 * HARP_EXT names the built extension (scripts/test sets it). Child
 * processes run `php -n` with only posix and harp loaded, so what they see
 * is the extension and nothing else from the machine's php.ini.
 */

declare(strict_types=1);

namespace Harp\Tests;

require_once __DIR__ . '/support/fastcgi.php';

final class Env
{
    public static function ext(): string
    {
        $e = getenv('HARP_EXT');
        if (!is_string($e) || !is_file($e)) {
            throw new \RuntimeException('HARP_EXT must name the built libharp.so: run scripts/test');
        }
        return $e;
    }

    /** The command line prefix of a PHP process with the extension loaded. */
    public static function php(bool $withHarp = true): array
    {
        // harp.mdns=0: no test process announces on this machine's real
        // network; harp.listen on loopback: nothing listens beyond it.
        $cmd = [PHP_BINARY, '-n', '-d', 'extension=posix', '-d', 'zend.assertions=1', '-d', 'assert.exception=1',
            '-d', 'harp.mdns=0', '-d', 'harp.listen=127.0.0.1:0'];
        if ($withHarp) {
            $cmd[] = '-d';
            $cmd[] = 'extension=' . self::ext();
        }
        return $cmd;
    }

    public static function root(): string
    {
        return dirname(__DIR__, 2);
    }

    /** A fresh directory, removed at exit. Short, since socket paths are limited to 107 bytes. */
    public static function tempDir(): string
    {
        $d = sys_get_temp_dir() . '/harp-t' . bin2hex(random_bytes(4));
        mkdir($d, 0700);
        register_shutdown_function(static fn () => self::rmTree($d));
        return $d;
    }

    public static function rmTree(string $d): void
    {
        if (!is_dir($d) || is_link($d)) {
            @unlink($d);
            return;
        }
        foreach (scandir($d) ?: [] as $f) {
            if ($f !== '.' && $f !== '..') {
                self::rmTree("$d/$f");
            }
        }
        @rmdir($d);
    }

    /** Writes PHP code to a temp file and returns its path. */
    public static function script(string $code): string
    {
        $f = self::tempDir() . '/s.php';
        file_put_contents($f, "<?php\ndeclare(strict_types=1);\n" . $code);
        return $f;
    }

    /**
     * Runs PHP code in a new process and waits for it.
     * @return array{0: int, 1: string, 2: string} exit code, stdout, stderr
     */
    public static function runPhp(string $code, array $args = [], array $env = [], int $timeout = 120): array
    {
        $p = Process::start([...self::php(), self::script($code), ...$args], $env);
        return $p->wait($timeout);
    }

    /** Polls $cond every 10 ms until it returns true or $seconds pass. */
    public static function waitUntil(callable $cond, float $seconds, string $what): void
    {
        $deadline = microtime(true) + $seconds;
        while (microtime(true) < $deadline) {
            if ($cond()) {
                return;
            }
            usleep(10_000);
        }
        throw new \RuntimeException("timed out after {$seconds}s waiting for $what");
    }
}

/** A child process whose output goes to files, so it can never block on a full pipe. */
final class Process
{
    /** @var resource */
    private $proc;
    private string $out;
    private string $err;
    private ?int $exit = null;
    public readonly int $pid;

    private function __construct($proc, string $out, string $err)
    {
        $this->proc = $proc;
        $this->out = $out;
        $this->err = $err;
        $this->pid = proc_get_status($proc)['pid'];
    }

    public static function start(array $cmd, array $env = []): self
    {
        $dir = Env::tempDir();
        $out = "$dir/out";
        $err = "$dir/err";
        $fullEnv = array_merge(getenv(), $env);
        $proc = proc_open($cmd, [0 => ['file', '/dev/null', 'r'], 1 => ['file', $out, 'w'], 2 => ['file', $err, 'w']], $pipes, null, $fullEnv);
        if (!is_resource($proc)) {
            throw new \RuntimeException('cannot start ' . implode(' ', $cmd));
        }
        return new self($proc, $out, $err);
    }

    public function stdout(): string
    {
        return (string) @file_get_contents($this->out);
    }

    public function stderr(): string
    {
        return (string) @file_get_contents($this->err);
    }

    public function running(): bool
    {
        if ($this->exit !== null) {
            return false;
        }
        $s = proc_get_status($this->proc);
        if (!$s['running']) {
            $this->exit = $s['signaled'] ? 128 + $s['termsig'] : $s['exitcode'];
            return false;
        }
        return true;
    }

    public function signal(int $sig): void
    {
        if ($this->running()) {
            proc_terminate($this->proc, $sig);
        }
    }

    /** @return array{0: int, 1: string, 2: string} */
    public function wait(float $timeout = 60): array
    {
        $deadline = microtime(true) + $timeout;
        while ($this->running()) {
            if (microtime(true) > $deadline) {
                $this->signal(9);
                usleep(100_000);
                $this->running();
                throw new \RuntimeException("process {$this->pid} still running after {$timeout}s; killed. stderr: " . $this->stderr());
            }
            usleep(5_000);
        }
        return [$this->exit ?? -1, $this->stdout(), $this->stderr()];
    }

    /** SIGKILL and reap. */
    public function kill(): void
    {
        $this->signal(9);
        try {
            $this->wait(10);
        } catch (\RuntimeException) {
        }
    }

    public function __destruct()
    {
        if ($this->running()) {
            $this->kill();
        }
    }
}

/** An owner process: `bin/harp serve` on a state directory. */
final class Owner
{
    public readonly Process $proc;

    public function __construct(public readonly string $stateDir, array $env = [])
    {
        $this->proc = Process::start([...Env::php(), Env::root() . '/bin/harp', 'serve', '--state-dir', $stateDir, '--no-mdns', '--quiet'], $env);
        Env::waitUntil(fn () => str_contains($this->proc->stdout(), 'serving') || !$this->proc->running(), 30, 'the owner to start');
        if (!$this->proc->running()) {
            throw new \RuntimeException('owner failed to start: ' . $this->proc->stderr());
        }
    }

    /** SIGTERM and wait for a clean exit. */
    public function stop(): void
    {
        $this->proc->signal(15);
        [$code, , $err] = $this->proc->wait(30);
        if ($code !== 0) {
            throw new \RuntimeException("owner exited with $code: $err");
        }
    }
}

/**
 * Every change recorded in a state directory, read by a short-lived owner
 * process once nothing else owns it.
 * @return list<array<string, mixed>>
 */
function recorded_changes(string $stateDir): array
{
    [$code, $out, $err] = Env::runPhp(<<<'PHP'
        $n = new Harp\Node($argv[1], ['mdns' => false]);
        $n->start(); // takes what still waits in the outbox
        $n->stop();
        $all = [];
        $after = 0;
        while ($page = $n->changes($after, 5000)) {
            array_push($all, ...$page);
            $after = end($page)['seq'];
        }
        echo json_encode($all);
        PHP, [$stateDir]);
    if ($code !== 0) {
        throw new \RuntimeException("reading changes failed ($code): $err");
    }
    return json_decode($out, true, 512, JSON_THROW_ON_ERROR);
}

/** Records a figure for the run's summary (scripts/test prints them at the end). */
function measure(string $name, float|int $value, string $unit): void
{
    $line = json_encode(['name' => $name, 'value' => $value, 'unit' => $unit]) . "\n";
    $file = getenv('HARP_MEASUREMENTS');
    if (is_string($file) && $file !== '') {
        file_put_contents($file, $line, FILE_APPEND);
    }
    fwrite(STDERR, "  measured: $name = $value $unit\n");
}

/**
 * Starts 4 load generators (support/loadgen.php) sending `$total` notify
 * requests, a quarter each, through php-fpm's socket.
 * @return list<Process>
 */
function loadgen_start(Fpm $fpm, string $state, int $total): array
{
    $gens = [];
    for ($g = 0; $g < 4; $g++) {
        $gens[] = Process::start([...Env::php(false), __DIR__ . '/support/loadgen.php', $fpm->sock, $state, (string) ($g * $total / 4), (string) ($total / 4)]);
    }
    return $gens;
}

/**
 * Waits for the load generators and returns one row per request; each
 * generator must exit 0.
 * @param list<Process> $gens
 * @return list<array<string, mixed>>
 */
function loadgen_rows(array $gens): array
{
    $rows = [];
    foreach ($gens as $p) {
        [$code, $out, $err] = $p->wait(300);
        \PHPUnit\Framework\Assert::assertSame(0, $code, $err);
        foreach (explode("\n", trim($out)) as $line) {
            $rows[] = json_decode($line, true, 512, JSON_THROW_ON_ERROR);
        }
    }
    return $rows;
}

/** Figures about one process from /proc. */
function proc_field(int $pid, string $field): int
{
    $s = (string) @file_get_contents("/proc/$pid/status");
    return preg_match('/^' . preg_quote($field, '/') . ':\s+(\d+)/m', $s, $m) ? (int) $m[1] : -1;
}

/** @return list<int> the pids of $parent's children */
function children(int $parent): array
{
    $out = [];
    foreach (glob('/proc/[0-9]*/stat') ?: [] as $f) {
        $stat = (string) @file_get_contents($f);
        // pid (comm) state ppid ...: comm may contain spaces, so split after ')'.
        $rest = substr($stat, (int) strrpos($stat, ')') + 2);
        $fields = explode(' ', $rest);
        if ((int) ($fields[1] ?? 0) === $parent) {
            $out[] = (int) basename(dirname($f));
        }
    }
    sort($out);
    return $out;
}

function percentile(array $values, float $p): float
{
    sort($values);
    $idx = (int) ceil($p / 100 * count($values)) - 1;
    return (float) $values[max(0, min(count($values) - 1, $idx))];
}

/** php-fpm from Debian: pm = static with 4 workers, run by the test, optionally with harp. */
final class Fpm
{
    public readonly Process $proc;
    public readonly string $sock;
    private string $dir;

    public function __construct(bool $withHarp, int $workers = 4)
    {
        // The php-fpm of the PHP running the tests (8.2 on Debian 12, 8.4 in scripts/test-php84's chroot).
        $ver = PHP_MAJOR_VERSION . '.' . PHP_MINOR_VERSION;
        $bin = "/usr/sbin/php-fpm$ver";
        if (!is_executable($bin)) {
            throw new \RuntimeException("$bin is missing: apt-get install php$ver-fpm");
        }
        $this->dir = Env::tempDir();
        $this->sock = "{$this->dir}/fpm.sock";
        file_put_contents("{$this->dir}/fpm.conf", <<<CONF
            [global]
            pid = {$this->dir}/fpm.pid
            error_log = {$this->dir}/fpm.log
            daemonize = no
            [www]
            user = root
            group = root
            listen = {$this->sock}
            pm = static
            pm.max_children = $workers
            clear_env = no
            catch_workers_output = yes
            CONF);
        $cmd = [$bin, '-n', '-R', '-F', '-y', "{$this->dir}/fpm.conf", '-d', 'extension=posix'];
        if ($withHarp) {
            array_push($cmd, '-d', 'extension=' . Env::ext());
        }
        $this->proc = Process::start($cmd);
        Env::waitUntil(fn () => count(children($this->proc->pid)) === $workers && file_exists($this->sock) || !$this->proc->running(), 20, 'php-fpm workers');
        if (!$this->proc->running()) {
            throw new \RuntimeException('php-fpm failed: ' . $this->proc->stderr() . @file_get_contents("{$this->dir}/fpm.log"));
        }
        usleep(300_000); // let the workers settle into idle
    }

    /** @return list<int> */
    public function workers(): array
    {
        return children($this->proc->pid);
    }

    public function stop(): void
    {
        $this->proc->signal(15);
        $this->proc->wait(20);
    }
}
