<?php
/**
 * A stand-in Nextcloud server in a directory: data/<user>/files, config.json
 * (app config), nextcloud.log, filecache-*.json, scanner.log. boot() builds
 * the container, runs the app's Application::register() and boot() as
 * Nextcloud does, and returns the server. write()/delete()/rename() change a
 * user's file the way Nextcloud's View does: disk, then the cache (cache
 * events), then the typed node event.
 */

declare(strict_types=1);

namespace OCA\Harp\Tests\Fake;

use OCA\Harp\AppInfo\Application;
use OCP\EventDispatcher\IEventDispatcher;
use OCP\Files\Events\Node\BeforeNodeCreatedEvent;
use OCP\Files\Events\Node\BeforeNodeDeletedEvent;
use OCP\Files\Events\Node\BeforeNodeRenamedEvent;
use OCP\Files\Events\Node\BeforeNodeWrittenEvent;
use OCP\Files\Events\Node\NodeCreatedEvent;
use OCP\Files\Events\Node\NodeDeletedEvent;
use OCP\Files\Events\Node\NodeRenamedEvent;
use OCP\Files\Events\Node\NodeWrittenEvent;
use OCP\Files\IRootFolder;
use OCP\IConfig;
use OCP\IL10N;
use OCP\IRequest;
use OCP\IURLGenerator;
use OCP\IUserSession;
use Psr\Log\LoggerInterface;

final class Server
{
    private static ?self $current = null;
    public readonly Container $container;
    public readonly Dispatcher $events;
    public readonly Registration $registration;
    public readonly Application $app;

    private function __construct(public readonly string $root)
    {
        $this->container = new Container();
        $this->events = new Dispatcher($this->container);
        $c = $this->container;
        $c->set(IEventDispatcher::class, $this->events);
        $c->set(IConfig::class, new FileConfig("$root/config.json", "$root/data"));
        $c->set(LoggerInterface::class, new FileLogger("$root/nextcloud.log"));
        $c->set(IRootFolder::class, new RootFolder("$root/data", $this->events, $root));
        $c->set(IUserSession::class, new UserSession());
        $c->set(IURLGenerator::class, new UrlGenerator());
        $c->set(IL10N::class, new L10N());
        $c->set(IRequest::class, new Request());
        $this->registration = new Registration($c, $this->events);
    }

    /** Boots the stand-in server in $root (created with the given users) and the app in it. */
    public static function boot(string $root, array $users = ['alice']): self
    {
        foreach ($users as $u) {
            @mkdir("$root/data/$u/files", 0777, true);
        }
        $s = self::$current = new self($root);
        \OC::$server = $s->container;
        $s->app = new Application();
        $s->app->register($s->registration);
        $s->app->boot($s->registration);
        return $s;
    }

    public static function appContainer(string $appName): Container
    {
        if (self::$current === null) {
            throw new \RuntimeException('boot the stand-in server first');
        }
        return self::$current->container;
    }

    public static function appRoot(): string
    {
        return dirname(__DIR__, 2);
    }

    public function get(string $id): mixed
    {
        return $this->container->get($id);
    }

    public function storage(string $user): HomeStorage
    {
        return $this->container->get(IRootFolder::class)->storage($user);
    }

    /** @return array<string, array> user $user's file cache, by internal path */
    public function cache(string $user): array
    {
        return $this->storage($user)->getCache()->all();
    }

    /**
     * A write through Nextcloud (an upload, an edit), in the order of
     * View::file_put_contents (nextcloud/server lib/private/Files/View.php)
     * and HookConnector: the pre hooks (BeforeNodeCreatedEvent for a new
     * file, then BeforeNodeWrittenEvent), the storage, the Updater (a cache
     * event), then the post hooks (NodeCreatedEvent for a new file, then
     * NodeWrittenEvent).
     */
    public function write(string $user, string $path, string $bytes): void
    {
        $st = $this->storage($user);
        $internal = 'files/' . ltrim($path, '/');
        $local = $st->getLocalFile($internal);
        $new = !file_exists($local);
        $node = new FakeFile($st, $internal);
        if ($new) {
            $this->events->dispatchTyped(new BeforeNodeCreatedEvent($node));
        }
        $this->events->dispatchTyped(new BeforeNodeWrittenEvent($node));
        @mkdir(dirname($local), 0777, true);
        file_put_contents($local, $bytes);
        $st->getScanner()->scanFile($internal);
        if ($new) {
            $this->events->dispatchTyped(new NodeCreatedEvent($node));
        }
        $this->events->dispatchTyped(new NodeWrittenEvent($node));
    }

    public function delete(string $user, string $path): void
    {
        $st = $this->storage($user);
        $internal = 'files/' . ltrim($path, '/');
        $local = $st->getLocalFile($internal);
        $node = new FakeFile($st, $internal, is_dir($local) ? 'dir' : 'file');
        // As View::unlink/rmdir: BeforeNodeDeletedEvent, the storage, the cache, NodeDeletedEvent.
        $this->events->dispatchTyped(new BeforeNodeDeletedEvent($node));
        if (is_dir($local)) {
            $it = new \RecursiveIteratorIterator(new \RecursiveDirectoryIterator($local, \FilesystemIterator::SKIP_DOTS), \RecursiveIteratorIterator::CHILD_FIRST);
            foreach ($it as $f) {
                $f->isDir() ? rmdir($f->getPathname()) : unlink($f->getPathname());
            }
            rmdir($local);
        } else {
            unlink($local);
        }
        $st->getScanner()->scanFile($internal);
        $this->events->dispatchTyped(new NodeDeletedEvent($node));
    }

    public function rename(string $user, string $from, string $to): void
    {
        $st = $this->storage($user);
        [$a, $b] = ['files/' . ltrim($from, '/'), 'files/' . ltrim($to, '/')];
        $type = is_dir($st->getLocalFile($a)) ? 'dir' : 'file';
        $source = new FakeFile($st, $a, $type);
        // As View::rename: the pre-rename hook (BeforeNodeRenamedEvent), the
        // storage's rename, the Updater moving the cache entry (Cache::move,
        // which dispatches CacheEntryUpdatedEvent), then NodeRenamedEvent.
        $this->events->dispatchTyped(new BeforeNodeRenamedEvent($source, new FakeFile($st, $b, $type)));
        rename($st->getLocalFile($a), $st->getLocalFile($b));
        $st->getCache()->move($a, $b);
        $this->events->dispatchTyped(new NodeRenamedEvent($source, new FakeFile($st, $b, $type)));
    }

    /** @return list<array{level: string, message: string}> what the app logged */
    public function log(): array
    {
        $f = "{$this->root}/nextcloud.log";
        return is_file($f) ? array_map(fn ($l) => json_decode($l, true), file($f, FILE_IGNORE_NEW_LINES)) : [];
    }

    /** @return list<array{call: string, path: string}> every scanner and propagator call */
    public function scannerCalls(): array
    {
        $f = "{$this->root}/scanner.log";
        return is_file($f) ? array_map(fn ($l) => json_decode($l, true), file($f, FILE_IGNORE_NEW_LINES)) : [];
    }
}
