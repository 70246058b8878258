#!/usr/bin/env php
<?php
/**
 * Compares every OCP stand-in in tests/stubs/OCP with the real OCP API of
 * one or more Nextcloud versions, by reflection: class kind, parent,
 * interfaces, and for each method and constant the stand-in declares its
 * parameters (types, defaults, by-reference), return type and value.
 *
 *   php tests/check-stubs.php DIR...
 *
 * Each DIR holds an OCP/ tree: nextcloud/server's lib/public renamed OCP,
 * or a checkout of https://github.com/nextcloud-deps/ocp (one branch per
 * Nextcloud version: stable28 ... stable31), e.g.
 *   git -C ocp archive stable28 OCP | tar -x -C /tmp/ocp28
 * Exit code 1 when a stand-in declares something the real API lacks or
 * declares differently; version differences the stand-ins document (see
 * their headers) show up here too, by design.
 */

declare(strict_types=1);

if (($argv[1] ?? '') === '--dump') {
    // Child process: reflect the classes in $argv[3..] loaded from $argv[2].
    [$root, $classes] = [$argv[2], array_slice($argv, 3)];
    spl_autoload_register(static function (string $c) use ($root): void {
        foreach ([$root, '/usr/share/php'] as $dir) {
            $f = $dir . '/' . str_replace('\\', '/', $c) . '.php';
            if (is_file($f)) {
                require_once $f;
                return;
            }
        }
        // What the real OCP refers to outside OCP (OC\Hooks\Emitter,
        // Psr\EventDispatcher\StoppableEventInterface, ...): empty interfaces.
        $p = strrpos($c, '\\');
        if ($p !== false && !str_starts_with($c, 'OCP\\') && !str_starts_with($c, 'OCA\\')) {
            eval('namespace ' . substr($c, 0, $p) . '; interface ' . substr($c, $p + 1) . ' {}');
        }
    });
    $out = [];
    foreach ($classes as $c) {
        try {
            $r = new ReflectionClass($c);
        } catch (Throwable $e) {
            $out[$c] = null;
            continue;
        }
        $methods = [];
        foreach ($r->getMethods() as $m) {
            $ps = array_map(static fn (ReflectionParameter $p) => trim($p->getType() . ' ' . ($p->isPassedByReference() ? '&' : '') . ($p->isVariadic() ? '...' : '') . '$' . $p->getName()
                . ($p->isDefaultValueAvailable() ? ' = ' . ($p->isDefaultValueConstant() ? $p->getDefaultValueConstantName() : var_export($p->getDefaultValue(), true)) : '')), $m->getParameters());
            $methods[$m->getName()] = ($m->isStatic() ? 'static ' : '') . ($m->isPublic() ? 'public' : ($m->isProtected() ? 'protected' : 'private'))
                . ' function ' . $m->getName() . '(' . implode(', ', $ps) . ')' . ($m->hasReturnType() ? ': ' . $m->getReturnType() : '');
        }
        $out[$c] = [
            'kind' => $r->isInterface() ? 'interface' : (($r->isAbstract() ? 'abstract ' : '') . ($r->isFinal() ? 'final ' : '') . 'class'),
            'parent' => $r->getParentClass() ? $r->getParentClass()->getName() : null,
            'interfaces' => $r->getInterfaceNames(),
            'methods' => $methods,
            'constants' => $r->getConstants(),
        ];
    }
    echo json_encode($out);
    exit(0);
}

if ($argc < 2) {
    fwrite(STDERR, "usage: php tests/check-stubs.php DIR... (each with an OCP/ tree)\n");
    exit(64);
}
$stubs = __DIR__ . '/stubs';
$classes = [];
foreach (new RecursiveIteratorIterator(new RecursiveDirectoryIterator("$stubs/OCP", FilesystemIterator::SKIP_DOTS)) as $f) {
    $classes[] = str_replace('/', '\\', substr($f->getPathname(), strlen($stubs) + 1, -4));
}
sort($classes);
$dump = static function (string $root) use ($classes): array {
    $cmd = array_merge([PHP_BINARY, '-n', __FILE__, '--dump', $root], $classes);
    $p = proc_open($cmd, [1 => ['pipe', 'w']], $pipes);
    $json = stream_get_contents($pipes[1]);
    proc_close($p);
    return json_decode((string) $json, true) ?? throw new RuntimeException("reflecting $root failed");
};
// The stand-ins load OCA\Harp\Tests\Fake\... only when used, so they reflect on their own.
$mine = $dump($stubs);
$bad = 0;
foreach (array_slice($argv, 1) as $dir) {
    $real = $dump(realpath($dir) ?: $dir);
    foreach ($classes as $c) {
        $s = $mine[$c];
        $r = $real[$c] ?? null;
        $diff = [];
        if ($r === null) {
            $diff[] = 'not in this OCP';
        } else {
            foreach (['kind', 'parent'] as $k) {
                if ($s[$k] !== $r[$k]) {
                    $diff[] = "$k: stand-in " . json_encode($s[$k]) . ', real ' . json_encode($r[$k]);
                }
            }
            foreach (array_diff($s['interfaces'], $r['interfaces']) as $i) {
                $diff[] = "implements $i, the real one does not";
            }
            foreach ($s['methods'] as $m => $sig) {
                if (!isset($r['methods'][$m])) {
                    $diff[] = "no method $m in the real one";
                } elseif ($sig !== $r['methods'][$m]) {
                    $diff[] = "stand-in: $sig\n        real: {$r['methods'][$m]}";
                }
            }
            foreach ($s['constants'] as $k => $v) {
                if (!array_key_exists($k, $r['constants']) || $r['constants'][$k] !== $v) {
                    $diff[] = "const $k: stand-in " . json_encode($v) . ', real ' . json_encode($r['constants'][$k] ?? null);
                }
            }
        }
        if ($diff !== []) {
            $bad++;
            echo "✗ $c ($dir)\n    " . implode("\n    ", $diff) . "\n";
        }
    }
    echo "checked " . count($classes) . " stand-ins against $dir\n";
}
exit($bad === 0 ? 0 : 1);
