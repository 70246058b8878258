<?php

declare(strict_types=1);

namespace Harp\Tests;

use PHPUnit\Framework\TestCase;

/** The extension as PHP sees it: loading, php --ri, classes, Chain::link. */
final class ExtensionTest extends TestCase
{
    public function testPhpRiShowsVersionStateDirRoleAndIniSettings(): void
    {
        $dir = Env::tempDir();
        // Without the test defaults, so the built-in ones show.
        $p = Process::start([PHP_BINARY, '-n', '-d', 'extension=' . Env::ext(), '-d', "harp.state_dir=$dir", '--ri', 'harp']);
        [$code, $out] = $p->wait();
        $this->assertSame(0, $code);
        $this->assertMatchesRegularExpression('/^version => \d+\.\d+\.\d+$/m', $out);
        $this->assertStringContainsString("state directory => $dir", $out);
        $this->assertStringContainsString('this process => client', $out);
        $this->assertStringContainsString('owner process => none running', $out);
        foreach (['harp.state_dir', 'harp.listen => 0.0.0.0:4433', 'harp.mdns => 1', 'harp.name', 'harp.notify_fsync'] as $ini) {
            $this->assertStringContainsString($ini, $out);
        }
    }

    public function testPhpRiNamesARunningOwner(): void
    {
        $dir = Env::tempDir();
        $owner = new Owner($dir);
        [, $out] = Process::start([...Env::php(), '-d', "harp.state_dir=$dir", '--ri', 'harp'])->wait();
        $this->assertStringContainsString("owner process => pid {$owner->proc->pid}", $out);
        $owner->stop();
    }

    public function testAProcessThatOwnsTheNodeSaysSoInItsInfo(): void
    {
        $dir = Env::tempDir();
        $p = Process::start([...Env::php(), '-d', "harp.state_dir=$dir", Env::script('$n = new Harp\Node(ini_get("harp.state_dir")); phpinfo(INFO_MODULES);')]);
        [$code, $out, $err] = $p->wait();
        $this->assertSame(0, $code, $err);
        $this->assertMatchesRegularExpression('/this process => owner/', $out);
    }

    public function testClassesAndExceptionTreeExist(): void
    {
        foreach (['Harp\Node', 'Harp\Client', 'Harp\Chain', 'Harp\Event'] as $c) {
            $this->assertTrue(class_exists($c), $c);
            $this->assertTrue((new \ReflectionClass($c))->isFinal(), "$c is final");
        }
        $this->assertTrue(is_subclass_of('Harp\Exception\HarpException', \Exception::class));
        foreach (['AlreadyRunning', 'NotRunning', 'InvalidPath', 'UntrustedPeer', 'Storage', 'Protocol', 'Config'] as $e) {
            $this->assertTrue(is_subclass_of("Harp\\Exception\\{$e}Exception", 'Harp\Exception\HarpException'), $e);
        }
    }

    public function testChainLinkIsSha3OfMetaThenPrev(): void
    {
        $prev = random_bytes(32);
        $meta = "\x01entry meta \x00 with binary";
        $link = \Harp\Chain::link($prev, $meta);
        $this->assertSame(32, strlen($link));
        $this->assertSame(hash('sha3-256', $meta . $prev, true), $link);
        $this->assertSame($link, \Harp\Chain::link($prev, $meta), 'deterministic');
        $this->assertNotSame(hash('sha3-256', $prev . $meta, true), $link, 'meta comes first');
    }

    public function testChainLinkReproducesTheDocumentedEntryHash(): void
    {
        // docs/FORMAT.md, "Test vector": the first entry's meta and hash.
        $meta = hex2bin('010104646f63730e007265706f7274732f71312e7478740000050000000000000015cd853dfe9c9717c0f5bf4802c642564888a3bcba11032098537ac1662030616a96b53bb7199203791026e25cc1ba461167ffb5c6dc095c284bd92cdc5ca34ac589a95d24f538300100000000000000f469e5cf8b0100000000');
        $this->assertSame('465c5939439d9f766d824a38de94964bd3cbb66e920f9527f7670a38dfaa2c7f', bin2hex(\Harp\Chain::link(str_repeat("\0", 32), $meta)));
    }

    public function testChainLinkRefusesAWrongLengthHashWithAnException(): void
    {
        foreach (['', str_repeat('a', 31), str_repeat('a', 33), bin2hex(random_bytes(32))] as $bad) {
            try {
                \Harp\Chain::link($bad, 'meta');
                $this->fail('accepted a ' . strlen($bad) . '-byte hash');
            } catch (\Harp\Exception\ConfigException $e) {
                $this->assertStringContainsString('32 raw bytes', $e->getMessage());
            }
        }
    }

    public function testNoThreadIsStartedByLoadingTheExtensionInTheCli(): void
    {
        $code = 'preg_match("/^Threads:\s+(\d+)/m", file_get_contents("/proc/self/status"), $m); echo $m[1];';
        [, $with] = Env::runPhp($code . ' new Harp\Client($argv[1]);', [Env::tempDir()]);
        $this->assertSame('1', $with);
    }
}
