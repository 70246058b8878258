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
use OCP\Files\FileInfo;
use OCP\Files\IRootFolder;
use OCP\IAppConfig;
use OCP\IConfig;
use OCP\IL10N;
use OCP\IRequest;
use OCP\IURLGenerator;
use OCP\IUserSession;
use OCP\Lock\ILockingProvider;
use Psr\Log\LoggerInterface;

final class Server
{
    private static ?self $current = null;
    public readonly Container $container;
    public readonly Dispatcher $events;
    public readonly Registration $registration;
    public readonly Application $app;
    /** The message of the last operation a listener aborted. */
    public ?string $aborted = null;

    private function __construct(public readonly string $root)
    {
        $this->container = new Container();
        $this->events = new Dispatcher($this->container);
        $c = $this->container;
        $c->set(IEventDispatcher::class, $this->events);
        $config = new FileConfig("$root/config.json", "$root/data");
        $c->set(IConfig::class, $config);
        $c->set(IAppConfig::class, $config);
        $c->set(\OCP\Encryption\IManager::class, new EncryptionManager($config));
        $c->set(LoggerInterface::class, new FileLogger("$root/nextcloud.log"));
        $rootFolder = new RootFolder("$root/data", $this->events, $root);
        $c->set(IRootFolder::class, $rootFolder);
        $c->set(ILockingProvider::class, $rootFolder->site->locks);
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
        \OC::$configDir = "$root/config/";
        if (!is_file("$root/config/config.php")) {
            $s->setSystemValues(['datadirectory' => "$root/data", 'version' => '31.0.0.0', 'maintenance' => false]);
        }
        $s->app = new Application();
        $s->app->register($s->registration);
        $s->app->boot($s->registration);
        return $s;
    }

    /**
     * Changes config/config.php, as `occ maintenance:mode --on` or an
     * upgrade (a new 'version') does; the file is written atomically.
     */
    public function setSystemValues(array $values): void
    {
        $f = "{$this->root}/config/config.php";
        $CONFIG = [];
        if (is_file($f)) {
            include $f;
        }
        @mkdir(dirname($f), 0777, true);
        file_put_contents("$f.tmp", "<?php\n\$CONFIG = " . var_export(array_merge($CONFIG, $values), true) . ";\n");
        rename("$f.tmp", $f);
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

    public function rootFolder(): RootFolder
    {
        return $this->container->get(IRootFolder::class);
    }

    public function storage(string $user): Home
    {
        return $this->rootFolder()->storage($user);
    }

    /** @return array<string, array> user $user's file cache (home storage), by internal path */
    public function cache(string $user): array
    {
        return $this->storage($user)->getCache()->all();
    }

    /** @return array<string, array> the root storage's file cache (group folders live there), by internal path */
    public function rootCache(): array
    {
        return $this->rootFolder()->rootStorage()->getCache()->all();
    }

    /** What Nextcloud counts against $user's quota: the size of files/ in their home storage's cache. */
    public function usedSpace(string $user): int
    {
        return (int) ($this->cache($user)['files']['size'] ?? 0);
    }

    /**
     * A group folder (groupfolders' Team folders): data/__groupfolders/<id>,
     * mounted at /<member>/files/<mountPoint> for each member.
     */
    public function addGroupFolder(int $id, string $mountPoint, array $members): void
    {
        $rf = $this->rootFolder();
        $root = $rf->rootStorage();
        @mkdir($root->getLocalFile("__groupfolders/$id"), 0777, true);
        $root->getScanner()->scan("__groupfolders/$id");
        $m = $rf->mounts();
        $m['groupfolders'][] = ['id' => $id, 'mount_point' => trim($mountPoint, '/'), 'members' => array_values($members)];
        $rf->setMounts($m);
    }

    /** $user's home on object storage (S3 as primary storage) instead of the data directory. */
    public function useObjectStorage(string $user): void
    {
        $rf = $this->rootFolder();
        $m = $rf->mounts();
        $m['object_homes'][] = $user;
        $rf->setMounts($m);
    }

    /** $owner shares $source (a path in their files, or in a folder mounted there) with $recipient, who sees it at $target. */
    public function share(string $owner, string $source, string $recipient, string $target): void
    {
        $rf = $this->rootFolder();
        $m = $rf->mounts();
        $m['shares'][] = ['owner' => $owner, 'source' => trim($source, '/'), 'recipient' => $recipient, 'target' => trim($target, '/')];
        $rf->setMounts($m);
    }

    /** A node for a path in $user's files (/Offices/a.txt), on whatever storage its mount gives. */
    private function node(string $user, string $path, ?string $type = null): FakeFile
    {
        return new FakeFile($this->rootFolder(), "/$user/files/" . ltrim($path, '/'), $type);
    }

    /**
     * Holds Nextcloud's exclusive lock on a path in $user's files, as an
     * upload in progress does (waiting up to 10 s for other locks on it to
     * go, as a client retries after "423 Locked"); returns the release.
     */
    public function lock(string $user, string $path): \Closure
    {
        [$st, $internal] = $this->node($user, $path)->resolved();
        $locks = $this->rootFolder()->site->locks;
        for ($i = 0;; $i++) {
            try {
                $st->acquireLock($internal, ILockingProvider::LOCK_EXCLUSIVE, $locks);
                break;
            } catch (\OCP\Lock\LockedException $e) {
                if ($i >= 200) {
                    throw $e;
                }
                usleep(50_000);
            }
        }
        return static fn () => $st->releaseLock($internal, ILockingProvider::LOCK_EXCLUSIVE, $locks);
    }

    /**
     * A write through Nextcloud (an upload, an edit) by $user, in the order
     * of View::file_put_contents (nextcloud/server lib/private/Files/View.php)
     * and HookConnector: the pre hooks (BeforeNodeCreatedEvent for a new
     * file, then BeforeNodeWrittenEvent), the storage, the Updater (a cache
     * event, sizes up to the storage's root), then the post hooks
     * (NodeCreatedEvent for a new file, then NodeWrittenEvent).
     */
    public function write(string $user, string $path, string $bytes): void
    {
        $node = $this->node($user, $path);
        [$st, $internal] = $node->resolved();
        $local = $st->getLocalFile($internal);
        $new = !file_exists($local);
        if ($new) {
            $this->events->dispatchTyped(new BeforeNodeCreatedEvent($node));
        }
        $this->events->dispatchTyped(new BeforeNodeWrittenEvent($node));
        @mkdir(dirname($local), 0777, true);
        file_put_contents($local, $bytes);
        $st->getUpdater()->update($internal);
        if ($new) {
            $this->events->dispatchTyped(new NodeCreatedEvent($node));
        }
        $this->events->dispatchTyped(new NodeWrittenEvent($node));
    }

    /**
     * A delete through Nextcloud by $user, with files_trashbin enabled (as it
     * is by default): BeforeNodeDeletedEvent, then the node moves to its
     * owner's trash (Trashbin::move2trash: <owner>/files_trashbin/files/
     * <name>.d<time> in the owner's home storage; groupfolders' trash
     * backend: __groupfolders/trash/<id>/<name>.d<time> in the root storage),
     * where the cache moves it (one CacheEntryUpdatedEvent, for the trash
     * path), then NodeDeletedEvent.
     */
    public function delete(string $user, string $path): bool
    {
        $node = $this->node($user, $path);
        [$st, $internal] = $node->resolved();
        $node = $this->node($user, $path, $st->is_dir($internal) ? FileInfo::TYPE_FOLDER : FileInfo::TYPE_FILE);
        if (!$this->dispatchBefore(new BeforeNodeDeletedEvent($node), 'delete')) {
            return false;
        }
        [$base, $basePath] = Site::unjail($st, $internal);
        $name = basename($basePath) . '.d' . time();
        if (preg_match('#^__groupfolders/(\d+)/#', $basePath, $g)) {
            $trash = "__groupfolders/trash/{$g[1]}/$name";
        } else {
            $trash = "files_trashbin/files/$name";
        }
        @mkdir(dirname($base->getLocalFile($trash)), 0777, true);
        rename($base->getLocalFile($basePath), $base->getLocalFile($trash));
        $base->getUpdater()->renameFromStorage($base, $basePath, $trash);
        $this->events->dispatchTyped(new NodeDeletedEvent($node));
        return true;
    }

    /** A rename by $user, as View::rename: BeforeNodeRenamedEvent, the storage, the Updater (Cache::move), NodeRenamedEvent. */
    public function rename(string $user, string $from, string $to): bool
    {
        $source = $this->node($user, $from);
        [$sst, $a] = $source->resolved();
        $type = $sst->is_dir($a) ? FileInfo::TYPE_FOLDER : FileInfo::TYPE_FILE;
        $source = $this->node($user, $from, $type);
        $target = $this->node($user, $to, $type);
        [$tst, $b] = $target->resolved();
        if (!$this->dispatchBefore(new BeforeNodeRenamedEvent($source, $target), 'rename')) {
            return false;
        }
        @mkdir(dirname($tst->getLocalFile($b)), 0777, true);
        rename($sst->getLocalFile($a), $tst->getLocalFile($b));
        $tst->getUpdater()->renameFromStorage($sst, $a, $b);
        $this->events->dispatchTyped(new NodeRenamedEvent($source, $target));
        return true;
    }

    /**
     * A Before* event whose listener may abort the operation, as
     * OC\Files\Node\HookConnector (nextcloud/server
     * lib/private/Files/Node/HookConnector.php, Nextcloud 29+) does: an
     * AbortedEventException cancels it ("run" false: View returns false,
     * WebDAV answers 403) and is logged as a warning.
     */
    private function dispatchBefore(object $event, string $what): bool
    {
        try {
            $this->events->dispatchTyped($event);
            return true;
        } catch (\OCP\Exceptions\AbortedEventException $e) {
            $this->get(LoggerInterface::class)->warning("$what process aborted", ['exception' => $e]);
            $this->aborted = $e->getMessage();
            return false;
        }
    }

    /**
     * A request to an app controller as Nextcloud's dispatcher runs it, with
     * the security middleware harpbridge depends on: the CSRF check (the
     * requesttoken must match the session's) and
     * PasswordConfirmationMiddleware (nextcloud/server
     * lib/private/AppFramework/Middleware/Security/
     * PasswordConfirmationMiddleware.php at
     * 001260223e544b6b583cbd9a9a87f11273c1642d): a method with
     * #[PasswordConfirmationRequired] needs 'last-password-confirm' in the
     * session within the last 30 minutes (and 15 s), else 403. $session is
     * the admin's session (see session()).
     * @return array{0: int, 1: array} status and JSON body
     */
    public function request(string $controller, string $method, array $params, array $session, ?string $token): array
    {
        if ($token === null || !hash_equals((string) ($session['requesttoken'] ?? ''), $token)) {
            return [412, ['message' => 'CSRF check failed']];
        }
        $attrs = (new \ReflectionMethod($controller, $method))->getAttributes(\OCP\AppFramework\Http\Attribute\PasswordConfirmationRequired::class);
        if ($attrs !== [] && (int) ($session['last-password-confirm'] ?? 0) < time() - (30 * 60 + 15)) {
            return [403, ['message' => 'Password confirmation is required']];
        }
        $this->container->set(IRequest::class, new Request($params));
        $this->container->forget($controller);
        $ref = new \ReflectionMethod($controller, $method);
        $args = [];
        foreach ($ref->getParameters() as $p) {
            $args[] = $params[$p->getName()] ?? ($p->isDefaultValueAvailable() ? $p->getDefaultValue() : null);
        }
        $response = $this->get($controller)->$method(...$args);
        return [$response->getStatus(), $response->getData()];
    }

    /** The admin's session (one per stand-in server): a request token and when the password was last confirmed. */
    public function session(?array $set = null): array
    {
        $f = "{$this->root}/session.json";
        if ($set !== null) {
            file_put_contents($f, json_encode($set), LOCK_EX);
            return $set;
        }
        $s = is_file($f) ? (json_decode((string) file_get_contents($f), true) ?: []) : [];
        if (!isset($s['requesttoken'])) {
            $s = $this->session(['requesttoken' => bin2hex(random_bytes(16))] + $s);
        }
        return $s;
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
