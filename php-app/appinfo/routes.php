<?php
/**
 * Routes: the admin settings' buttons (js/admin.js) post here.
 */

declare(strict_types=1);

return [
    'routes' => [
        ['name' => 'pairing#trust', 'url' => '/pairing/trust', 'verb' => 'POST'],
        ['name' => 'pairing#untrust', 'url' => '/pairing/untrust', 'verb' => 'POST'],
        ['name' => 'folder#scan', 'url' => '/folder/scan', 'verb' => 'POST'],
        ['name' => 'folder#remove', 'url' => '/folder/remove', 'verb' => 'POST'],
    ],
];
