<?php
/**
 * The web side of a stand-in Nextcloud server, for `php -S` (the admin page
 * test): HARPBRIDGE_NC names the server's directory.
 *
 *   GET  /settings/admin/harpbridge          the admin section, with its script
 *   GET  /apps/harpbridge/js/<file>           the app's scripts
 *   POST /index.php/apps/harpbridge/<controller>/<method>
 *                                             the app's routes (appinfo/routes.php),
 *                                             through Server::request (CSRF token,
 *                                             password confirmation)
 *   POST /login/confirm                       core's password confirmation
 *                                             (core/Controller/LoginController::confirmPassword):
 *                                             the stand-in admin's password is "secret"
 */

declare(strict_types=1);

require __DIR__ . '/autoload.php';

use OCA\Harp\Settings\Admin;
use OCA\Harp\Tests\Fake\Server;

$server = Server::boot((string) getenv('HARPBRIDGE_NC'));
$path = (string) parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
$session = $server->session();

$json = static function (int $status, array $body): void {
    http_response_code($status);
    header('Content-Type: application/json');
    echo json_encode($body);
};

if ($path === '/settings/admin/harpbridge') {
    $html = $server->get(Admin::class)->getForm()->render();
    $scripts = implode('', array_map(fn ($s) => '<script src="/apps/' . explode('/', $s)[0] . '/js/' . explode('/', $s)[1] . '.js"></script>', OCP\Util::$scripts));
    echo '<!DOCTYPE html><html><head><meta charset="utf-8"><meta name="requesttoken" content="' . htmlspecialchars($session['requesttoken']) . '"></head><body>' . $html . $scripts . '</body></html>';
} elseif (preg_match('#^/apps/harpbridge/js/([a-z-]+\.js)$#', $path, $m)) {
    header('Content-Type: text/javascript');
    readfile(Server::appRoot() . '/js/' . $m[1]);
} elseif (preg_match('#^/index\.php/apps/harpbridge/([a-z]+)/([a-z]+)$#', $path, $m) && $_SERVER['REQUEST_METHOD'] === 'POST') {
    $routes = require Server::appRoot() . '/appinfo/routes.php';
    $known = array_filter($routes['routes'], fn ($r) => $r['name'] === "{$m[1]}#{$m[2]}");
    if ($known === []) {
        $json(404, ['message' => 'no such route']);
        return;
    }
    $class = 'OCA\\Harp\\Controller\\' . ucfirst($m[1]) . 'Controller';
    [$status, $body] = $server->request($class, $m[2], $_POST, $session, $_SERVER['HTTP_REQUESTTOKEN'] ?? null);
    $json($status, $body);
} elseif ($path === '/login/confirm' && $_SERVER['REQUEST_METHOD'] === 'POST') {
    if (($_SERVER['HTTP_REQUESTTOKEN'] ?? '') !== $session['requesttoken'] || ($_POST['password'] ?? '') !== 'secret') {
        $json(403, ['message' => 'Wrong password']);
        return;
    }
    $session['last-password-confirm'] = time();
    $server->session($session);
    $json(200, ['lastLogin' => time()]);
} else {
    $json(404, ['message' => "no page $path"]);
}
