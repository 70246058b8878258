<?php
// One FastCGI connection sending requests [from, from+count) to notify.php.
declare(strict_types=1);
require __DIR__ . '/fastcgi.php';
[, $sock, $dir, $from, $count] = $argv;
$fcgi = new Harp\Tests\FastCgi($sock);
$script = __DIR__ . '/notify.php';
for ($i = (int) $from; $i < (int) $from + (int) $count; $i++) {
    echo $fcgi->request($script, http_build_query(['i' => $i, 'dir' => $dir])), "\n";
}
