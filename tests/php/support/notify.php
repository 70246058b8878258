<?php
// Served by php-fpm in FpmTest: one hook call, as Nextcloud would make it.
declare(strict_types=1);
$i = (int) ($_GET['i'] ?? -1);
$t0 = hrtime(true);
$client = new Harp\Client($_GET['dir']);
$t1 = hrtime(true);
$client->notify('load', "f/$i.txt");
$t2 = hrtime(true);
preg_match('/^Threads:\s+(\d+)/m', (string) file_get_contents('/proc/self/status'), $m);
echo json_encode(['i' => $i, 'notify_ns' => $t2 - $t1, 'total_ns' => $t2 - $t0, 'pid' => getmypid(), 'threads' => (int) $m[1]]);
