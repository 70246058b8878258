<?php

declare(strict_types=1);

namespace Harp\Tests;

use PHPUnit\Framework\TestCase;

/**
 * A Rust panic never kills PHP. Debug builds panic on purpose at the points
 * named in HARP_DEBUG_PANIC; release builds have no such trigger.
 */
final class PanicTest extends TestCase
{
    private function runWithPanicAt(string $point, string $code): array
    {
        $dir = Env::tempDir();
        return Env::runPhp($code . "\necho \"\\nstill alive\";", [$dir], ['HARP_DEBUG_PANIC' => $point]);
    }

    protected function setUp(): void
    {
        [, $out] = Process::start([...Env::php(), '--ri', 'harp'])->wait();
        if (!str_contains($out, 'build => debug')) {
            $this->markTestSkipped('the panic trigger exists only in debug builds');
        }
    }

    public function testPanicInABindingIsAHarpException(): void
    {
        [$code, $out, $err] = $this->runWithPanicAt('node.status', <<<'PHP'
            $n = new Harp\Node($argv[1]);
            try { $n->status(); echo "no panic"; }
            catch (Harp\Exception\HarpException $e) { echo get_class($e), ': ', $e->getMessage(); }
            echo "\n", $n->deviceId() !== '' ? 'node still usable' : '';
            PHP);
        $this->assertSame(0, $code, $err);
        $this->assertStringContainsString('Harp\Exception\HarpException: internal error in harp', $out);
        $this->assertStringContainsString('debug panic at node.status', $out);
        $this->assertStringContainsString('node still usable', $out);
        $this->assertStringContainsString('still alive', $out);
    }

    public function testPanicInTheCoreUnderAClientCallIsAHarpException(): void
    {
        [$code, $out, $err] = $this->runWithPanicAt('client.notify', <<<'PHP'
            try { (new Harp\Client($argv[1]))->notify('docs', 'a.txt'); echo "no panic"; }
            catch (Harp\Exception\HarpException $e) { echo $e->getMessage(); }
            PHP);
        $this->assertSame(0, $code, $err);
        $this->assertStringContainsString('debug panic at client.notify', $out);
        $this->assertStringContainsString('still alive', $out);
    }

    public function testPanicInTheRuntimeReachesPhpOnTheNextCallAndTheNodeCanRestart(): void
    {
        [$code, $out, $err] = $this->runWithPanicAt('runtime.intake', <<<'PHP'
            $n = new Harp\Node($argv[1], ['mdns' => false]);
            $n->start();            // intake runs at once, and panics
            $deadline = microtime(true) + 20;
            do {
                usleep(20000);
                try { $n->status(); $caught = false; }
                catch (Harp\Exception\HarpException $e) { $caught = $e; }
            } while (!$caught && microtime(true) < $deadline);
            if (!$caught) { echo "no panic"; }
            else { echo get_class($caught), ': ', $caught->getMessage(), "\n"; }
            try { $n->status(); }
            catch (Harp\Exception\HarpException $e) { echo "reported twice\n"; }
            $s = $n->status();      // reported once; the state is visible after
            echo 'running=', var_export($s['running'], true), "\n";
            putenv('HARP_DEBUG_PANIC');
            $n->start();
            echo 'restarted=', var_export($n->status()['running'], true), "\n";
            $n->stop();
            PHP);
        $this->assertSame(0, $code, $err);
        $this->assertStringContainsString("Harp\\Exception\\HarpException: internal error in harp (please report it): the node's runtime stopped: panic: debug panic at runtime.intake", $out);
        $this->assertStringNotContainsString('reported twice', $out);
        $this->assertStringContainsString('running=false', $out);
        $this->assertStringContainsString('restarted=true', $out);
        $this->assertStringContainsString('still alive', $out);
    }
}
