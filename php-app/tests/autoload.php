<?php
/**
 * Class loading for the app's tests and the stand-in `occ`: the app's
 * lib/ (OCA\Harp\, as Nextcloud's autoloader maps it), the OCP/OC
 * stand-ins, the fakes, and Debian's Symfony Console and PSR packages.
 */

declare(strict_types=1);

foreach (['/usr/share/php/Symfony/Component/Console/autoload.php', '/usr/share/php/Psr/Log/autoload.php', '/usr/share/php/Psr/Container/autoload.php'] as $f) {
    if (!is_file($f)) {
        fwrite(STDERR, "$f is missing: apt-get install php-symfony-console php-psr-log php-psr-container (scripts/test does)\n");
        exit(69);
    }
    require_once $f;
}

spl_autoload_register(static function (string $class): void {
    $app = dirname(__DIR__);
    if ($class === 'OC') {
        require_once "$app/tests/stubs/OC.php";
        return;
    }
    $map = [
        'OCA\\Harp\\Tests\\Fake\\' => null,
        'OCA\\Harp\\Tests\\' => "$app/tests/",
        'OCA\\Harp\\' => "$app/lib/",
        'OCP\\' => "$app/tests/stubs/OCP/",
        'OC\\' => "$app/tests/stubs/OC/",
    ];
    foreach ($map as $prefix => $dir) {
        if (str_starts_with($class, $prefix)) {
            if ($dir === null) {
                // The fakes are a few files with several classes each.
                foreach (glob("$app/tests/fakes/*.php") ?: [] as $f) {
                    require_once $f;
                }
                return;
            }
            $file = $dir . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
            if (is_file($file)) {
                require_once $file;
            }
            return;
        }
    }
});

/** Nextcloud's template helper: prints escaped text. */
function p($string): void
{
    echo htmlspecialchars((string) $string, ENT_QUOTES, 'UTF-8');
}

function print_unescaped($string): void
{
    echo $string;
}
