<?php

declare(strict_types=1);

namespace Harp\Tests;

use PHPUnit\Framework\TestCase;

/** stubs/harp.stub.php is what `cargo php stubs` generates from the Rust docs. */
final class StubsTest extends TestCase
{
    public function testCommittedStubsMatchFreshlyGeneratedOnes(): void
    {
        $root = Env::root();
        $p = Process::start(['sh', '-c', 'cd ' . escapeshellarg($root) . ' && cargo php stubs --features php --stdout']);
        [$code, $fresh, $err] = $p->wait(600);
        $this->assertSame(0, $code, "cargo php stubs failed: $err");
        $this->assertSame($fresh, file_get_contents("$root/stubs/harp.stub.php"), 'stubs drifted: run scripts/stubs and commit stubs/harp.stub.php');
    }

    public function testStubsAreValidPhpAndCarryTheDocs(): void
    {
        $file = Env::root() . '/stubs/harp.stub.php';
        [$code, $out] = Process::start([PHP_BINARY, '-n', '-l', $file])->wait();
        $this->assertSame(0, $code, $out);
        $stub = file_get_contents($file);
        $this->assertStringContainsString('public function notify(string $folderId, string $path', $stub);
        $this->assertStringContainsString('SHA3-256 of `$metaBytes` followed by `$prevHash`', $stub);
    }
}
