<?php

declare(strict_types=1);

namespace OCA\Harp\Tests;

use Harp\Tests\Env;
use Harp\Tests\Process;
use OCA\Harp\Controller\PairingController;
use OCA\Harp\SetupChecks\HarpCheck;
use OCA\Harp\Settings\Admin;
use OCA\Harp\Tests\Fake\Server;
use OCP\SetupCheck\SetupResult;
use PHPUnit\Framework\TestCase;

/**
 * The admin page as an admin uses it: its buttons run in a DOM (jsdom)
 * with the app's js/admin.js against the stand-in server's web side, so
 * an action shows its answer in place instead of a page of raw JSON;
 * trusting asks for the password; every text goes through IL10N; and the
 * Administration > Overview setup check reports a missing extension or a
 * stopped daemon.
 */
final class AdminPageTest extends TestCase
{
    public function testTheButtonsWorkInTheBrowserAndTrustingAsksForThePassword(): void
    {
        $modules = getenv('HARP_NODE_MODULES') ?: '/var/cache/harp-test/node/node_modules';
        if (!is_dir("$modules/jsdom")) {
            $this->fail("jsdom is not installed in $modules: scripts/test installs it (npm install --prefix /var/cache/harp-test/node jsdom)");
        }
        $root = Nc::server();
        $this->assertSame(0, Nc::occ($root, ['harp:folder:add', 'docs', 'alice', '/Offices'])[0]);
        $daemon = Nc::daemon($root);
        $other = (new \Harp\Node(Env::tempDir()))->deviceId();
        $this->assertSame(0, Nc::occ($root, ['harp:trust', $other, '127.0.0.1:9'])[0]);
        $sock = stream_socket_server('tcp://127.0.0.1:0');
        $port = (int) substr((string) stream_socket_get_name($sock, false), strrpos((string) stream_socket_get_name($sock, false), ':') + 1);
        fclose($sock);
        $web = Process::start([...Nc::php(), '-S', "127.0.0.1:$port", __DIR__ . '/web.php'], ['HARPBRIDGE_NC' => $root]);
        try {
            Env::waitUntil(fn () => @file_get_contents("http://127.0.0.1:$port/settings/admin/harpbridge") !== false, 10, 'the web server');
            [$code, $out, $err] = Process::start(['node', __DIR__ . '/js/admin-page.mjs', "http://127.0.0.1:$port"], ['HARP_NODE_MODULES' => $modules])->wait(60);
            $this->assertSame(0, $code, $out . $err);
            $report = json_decode($out, true);
            $this->assertSame($other, $report['device']);
            $this->assertSame([
                ['untrust', "No longer trusted: $other"],
                ['trust', "Trusted $other. Trust this server on that device too."],
                ['scan', 'Scanned docs: 0 files, 0 new entries.'],
                ['unmap', 'Unmapped docs; its files stay in Nextcloud.'],
            ], $report['steps']);
            $this->assertTrue($report['trustNeedsPassword']);
            $this->assertFalse($report['submittedWithoutTick'], 'no trust without the box ticked');
            $this->assertSame(1, $report['passwordDialogs'], 'the password asked once, then remembered for 30 minutes');
            // What the clicks did.
            $peer = array_values(array_filter(Nc::occJson($root, ['harp:peers']), fn ($p) => $p['device_id'] === $other))[0] ?? null;
            $this->assertTrue((bool) ($peer['trusted'] ?? false), 'trusted again');
            $this->assertSame([], Nc::occJson($root, ['harp:folder:list']));
        } finally {
            $web->signal(SIGTERM);
            $web->wait(10);
            $daemon->signal(SIGTERM);
            $daemon->wait(30);
        }
    }

    public function testTrustWithoutAConfirmedPasswordIsRefused(): void
    {
        $s = Server::boot(Nc::server());
        $session = $s->session();
        $id = (new \Harp\Node(Env::tempDir()))->deviceId();
        [$status, $body] = $s->request(PairingController::class, 'trust', ['deviceId' => $id, 'compared' => '1'], $session, $session['requesttoken']);
        $this->assertSame([403, 'Password confirmation is required'], [$status, $body['message']]);
        [$status] = $s->request(PairingController::class, 'trust', ['deviceId' => $id, 'compared' => '1'], $session + ['last-password-confirm' => time()], 'wrong token');
        $this->assertSame(412, $status, 'and never without the request token');
    }

    public function testEveryTextOnThePageGoesThroughIl10n(): void
    {
        $root = Nc::server();
        $this->assertSame(0, Nc::occ($root, ['harp:folder:add', 'docs', 'alice', '/Offices'])[0]);
        $daemon = Nc::daemon($root);
        $other = (new \Harp\Node(Env::tempDir()))->deviceId();
        $this->assertSame(0, Nc::occ($root, ['harp:trust', $other, '127.0.0.1:9'])[0]);
        try {
            putenv('HARPBRIDGE_L10N=pseudo');
            $s = Server::boot($root);
            $state = $s->get(Admin::class)->state();
            $html = $s->get(Admin::class)->getForm()->render();
        } finally {
            putenv('HARPBRIDGE_L10N');
            $daemon->signal(SIGTERM);
            $daemon->wait(30);
        }
        // Data (IDs, names, paths, counts) is shown as it is; every other text is translated.
        $data = [$state['device_id'], $state['name'], $other, 'docs', 'alice: /Offices', '0', ''];
        foreach ($state['peers'] as $p) {
            $data[] = $p['name'];
            $data[] = $p['network'];
        }
        $doc = new \DOMDocument();
        @$doc->loadHTML('<?xml encoding="utf-8"?>' . $html);
        $untranslated = [];
        foreach ((new \DOMXPath($doc))->query('//text()') as $t) {
            $text = trim($t->textContent);
            if ($text !== '' && !in_array($text, $data, true) && !(str_starts_with($text, '⟦') && str_ends_with($text, '⟧'))) {
                $untranslated[] = $text;
            }
        }
        $this->assertSame([], $untranslated);
        $this->assertContains('harpbridge/admin', \OCP\Util::$scripts, 'the page loads js/admin.js');
        $this->assertFileExists(Server::appRoot() . '/img/app.svg', 'the app icon');
    }

    public function testTheOverviewSetupCheckReportsAMissingExtensionAndAStoppedDaemon(): void
    {
        $root = Nc::server();
        $s = Server::boot($root);
        $this->assertContains(HarpCheck::class, $s->registration->setupChecks);
        $result = $s->get(HarpCheck::class)->run();
        $this->assertSame(SetupResult::ERROR, $result->getSeverity());
        $this->assertStringContainsString('harp:daemon is not running', (string) $result->getDescription());

        $daemon = Nc::daemon($root);
        try {
            $result = Server::boot($root)->get(HarpCheck::class)->run();
            $this->assertSame(SetupResult::SUCCESS, $result->getSeverity(), (string) $result->getDescription());
        } finally {
            $daemon->signal(SIGTERM);
            $daemon->wait(30);
        }
        // Without the extension (php -n, no harp.so).
        [, $out, $err] = Process::start([...Nc::php(false), '-r', 'require $argv[1]; $s = OCA\Harp\Tests\Fake\Server::boot($argv[2]); $r = $s->get(OCA\Harp\SetupChecks\HarpCheck::class)->run(); echo $r->getSeverity(), " ", $r->getDescription();', __DIR__ . '/autoload.php', $root])->wait(30);
        $this->assertStringStartsWith('error The harp PHP extension is missing or too old', $out, $err);
    }
}
