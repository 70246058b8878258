<?php

declare(strict_types=1);

namespace OCA\Harp\Tests;

use PHPUnit\Framework\TestCase;

/**
 * What an admin meets: info.xml as Nextcloud reads it, harp:setup before and
 * after the daemon runs, harp:scan, and the app without the extension.
 */
final class AdminTest extends TestCase
{
    public function testInfoXmlDeclaresTheAppAndEveryCommandAndSetting(): void
    {
        $x = simplexml_load_file(dirname(__DIR__) . '/appinfo/info.xml');
        // app-info.xsd (nextcloud/server resources/) allows only agpl, mpl or apache as <licence>.
        $this->assertSame(['harpbridge', 'Harp', 'agpl'], [(string) $x->id, (string) $x->namespace, (string) $x->licence]);
        // app-info.xsd is an xs:sequence: the top-level elements must come in its order.
        $order = ['id', 'name', 'summary', 'description', 'version', 'licence', 'author', 'namespace', 'types', 'documentation', 'category', 'website', 'discussion', 'bugs', 'repository', 'screenshot', 'dependencies', 'background-jobs', 'repair-steps', 'two-factor-providers', 'commands', 'settings', 'activity', 'dashboard', 'fulltextsearch', 'navigations', 'contactsmenu', 'collaboration', 'sabre', 'trash', 'versions'];
        $seen = array_map(fn ($e) => $e->getName(), iterator_to_array($x->children(), false));
        $this->assertSame(array_values(array_intersect($order, $seen)), array_values(array_unique($seen)), 'info.xml elements in app-info.xsd order');
        $deps = array_map(fn ($e) => $e->getName(), iterator_to_array($x->dependencies->children(), false));
        $this->assertSame(array_values(array_intersect(['php', 'database', 'command', 'lib', 'owncloud', 'nextcloud', 'architecture', 'backend'], $deps)), $deps, '<dependencies> in app-info.xsd order');
        $this->assertSame('8.2', (string) $x->dependencies->php['min-version']);
        $this->assertSame('harp', (string) $x->dependencies->lib);
        $this->assertTrue(isset($x->types->filesystem));
        $names = [];
        foreach ($x->commands->command as $c) {
            $this->assertTrue(is_subclass_of((string) $c, \OC\Core\Command\Base::class), "$c is an occ command");
            $names[] = (new \ReflectionClass((string) $c))->newInstanceWithoutConstructor()->getName() ?? (string) $c;
        }
        $this->assertTrue(is_subclass_of((string) $x->settings->admin, \OCP\Settings\ISettings::class));
        $this->assertTrue(is_subclass_of((string) $x->settings->{'admin-section'}, \OCP\Settings\IIconSection::class));
        $this->assertTrue(is_subclass_of(\OCA\Harp\AppInfo\Application::class, \OCP\AppFramework\Bootstrap\IBootstrap::class));
    }

    public function testSetupSaysWhatToFixThenPassesOnceTheDaemonRunsAndScanShowsProgress(): void
    {
        $root = Nc::server();
        [$code, $out] = Nc::occ($root, ['harp:setup']);
        $this->assertSame(1, $code);
        $this->assertStringContainsString('✗ daemon', $out);
        $this->assertStringContainsString('systemctl daemon-reload && systemctl enable --now harp-nextcloud', $out);
        $this->assertStringContainsString('fix: Map one: occ harp:folder:add', $out);
        $this->assertMatchesRegularExpression('#ExecStart=\S+php\S* \S+/occ harp:daemon#', $out);

        Nc::occ($root, ['harp:folder:add', 'docs', 'alice', '/Offices']);
        file_put_contents("$root/data/alice/files/Offices/a.txt", 'already there');
        $d = Nc::daemon($root);
        $setup = Nc::occJson($root, ['harp:setup']);
        $this->assertTrue($setup['ok'], json_encode($setup['checks']));
        $this->assertSame(['extension', 'extension version', 'state directory', 'daemon', 'port', 'folders'], array_column($setup['checks'], 'check'));
        $this->assertStringContainsString('[Service]', $setup['systemd_unit']);

        file_put_contents("$root/data/alice/files/Offices/b.txt", 'written behind Nextcloud\'s back');
        [$code, $out, $err] = Nc::occ($root, ['harp:scan']);
        $this->assertSame(0, $code, $out);
        $this->assertStringContainsString('1/1 folders [============================]', $err, 'the progress bar (Symfony draws it on stderr)');
        $this->assertMatchesRegularExpression('/docs: 2 files, 1 new, 0 changed, 0 deleted, 1 entries/', $out);
        $d->signal(SIGTERM);
        $this->assertSame(0, $d->wait(30)[0]);
    }

    public function testWithoutTheExtensionNextcloudKeepsWorkingAndEveryMessageSaysHowToInstallIt(): void
    {
        $root = Nc::server();
        Nc::occ($root, ['harp:folder:add', 'docs', 'alice', '/Offices']);
        // A web request in a PHP without harp.so: the upload still succeeds.
        [$code, $out, $err] = \Harp\Tests\Process::start([...Nc::php(false), '-r', 'require $argv[1]; $s = OCA\Harp\Tests\Fake\Server::boot($argv[2]); $s->write("alice", "/Offices/a.txt", "x"); echo get_class($s->get(OCA\Harp\Bridge\Bridge::class)), "|", json_encode($s->log());', __DIR__ . '/autoload.php', $root])->wait(30);
        $this->assertSame(0, $code, $err);
        [$bridge, $log] = explode('|', $out, 2);
        $this->assertSame(\OCA\Harp\Bridge\NullBridge::class, $bridge);
        $log = json_decode($log, true);
        $this->assertCount(1, $log, 'one warning per process');
        $this->assertStringContainsString('sudo scripts/install', $log[0]['message']);
        $this->assertFileExists("$root/data/alice/files/Offices/a.txt");

        [$code, $out] = Nc::occ($root, ['harp:setup'], false);
        $this->assertSame(1, $code);
        $this->assertStringContainsString('✗ extension', $out);
        $this->assertStringContainsString('fix: The harp PHP extension (harp.so) is not loaded', $out);
        [$code, $out] = Nc::occ($root, ['harp:daemon'], false);
        $this->assertSame(78, $code, 'EX_CONFIG: the unit does not restart it (RestartPreventExitStatus)');
        $this->assertStringContainsString('php --ri harp', $out);

        // Enabling: Nextcloud's <lib>harp</lib> check refuses first; the install repair step warns with the same message.
        [$code, $out, $err] = \Harp\Tests\Process::start([...Nc::php(false), '-r', 'require $argv[1]; (new OCA\Harp\Migration\CheckExtension())->run(new class implements OCP\Migration\IOutput { function info($m) { echo "info: $m"; } function warning($m) { echo "warning: $m"; } });', __DIR__ . '/autoload.php'])->wait(30);
        $this->assertStringStartsWith('warning: The harp PHP extension (harp.so) is not loaded', $out, $err);
        $this->assertStringContainsString('occ app:enable harpbridge', $out);
    }
}
