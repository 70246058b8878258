<?php
/**
 * Routes: the admin settings' pairing form posts here.
 */

declare(strict_types=1);

return [
    'routes' => [
        ['name' => 'pairing#trust', 'url' => '/pairing/trust', 'verb' => 'POST'],
        ['name' => 'pairing#untrust', 'url' => '/pairing/untrust', 'verb' => 'POST'],
    ],
];
