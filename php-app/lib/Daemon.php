<?php
/**
 * The loop behind `occ harp:daemon`: owns the Harp node for the state
 * directory (one process per directory, enforced by the extension's lock),
 * syncs every mapped folder, and brings each file a peer sends into
 * Nextcloud's file cache the way Nextcloud itself does after a write: the
 * storage's Updater (update() or remove()), so folder sizes, users' quota
 * usage, etags and parents' mtimes follow.
 *
 * Nothing is missed:
 * - a path Nextcloud holds locked (an upload in progress) is retried, with
 *   a growing delay, until the lock is gone;
 * - at start and every `reconcile_interval` seconds (default 600) each
 *   mapped folder is reconciled with Nextcloud's file cache: a scan that
 *   reuses etags and sizes, so what arrived while no daemon ran, or while
 *   a retry was pending when the daemon stopped, appears;
 * - the mappings are read again every few seconds: a folder mapped while
 *   the daemon runs is synced and reconciled at once, and an unmapped one
 *   is shared with no device any more.
 * A name Nextcloud refuses (its verifyPath rules) stays on disk, out of the
 * file list, and is logged with the reason.
 *
 * Nextcloud's file locks are respected: the node runs with the place gate
 * (Harp\Node's `place_gate`), so before a file from a peer is renamed into
 * place the daemon takes Nextcloud's exclusive lock on it. A file Nextcloud
 * holds locked (an upload, an Office save in progress) is not replaced
 * until the lock is released; the node asks again every 2 s.
 *
 * In maintenance mode (and so during `occ upgrade`) nothing is written to
 * the file cache: changes wait and the folders are reconciled afterwards.
 * When config.php names a new version (Nextcloud was upgraded) or the app
 * is disabled, the loop ends with an exit code for systemd: EXIT_RESTART
 * (start again, with the new code) or EXIT_STOP (do not restart).
 *
 * The Updater's scan makes Nextcloud emit cache events, which reach our own
 * listener and become a notify; the extension drops a notify whose content
 * equals the version it just applied, so nothing echoes back to the peers.
 */

declare(strict_types=1);

namespace OCA\Harp;

use Harp\Event;
use Harp\Node;
use OCP\Files\Cache\IScanner;
use OCP\Files\InvalidPathException;
use OCP\Lock\ILockingProvider;
use OCP\Lock\LockedException;
use Psr\Log\LoggerInterface;

class Daemon
{
    /** Seconds between two reads of the mappings. */
    private const MAPPINGS_EVERY = 3.0;
    /** The first retry of a locked path, and the longest wait between two. */
    private const RETRY_FIRST = 1.0;
    private const RETRY_MAX = 60.0;
    /** Paths waiting for a retry; beyond this, their folder is reconciled instead. */
    private const RETRIES_KEPT = 10_000;
    /** Exit codes (sysexits.h): restart me (EX_TEMPFAIL), do not restart me (EX_CONFIG). */
    public const EXIT_RESTART = 75;
    public const EXIT_STOP = 78;

    /** Set when the loop must end: EXIT_RESTART or EXIT_STOP. */
    public ?int $exitCode = null;
    /** Nextcloud's version in config.php when the daemon started. */
    private ?string $version = null;
    private bool $maintenance = false;

    private ?Node $node = null;
    /** @var array<string, Mapping> what the node syncs for Nextcloud, by folder id */
    private array $mapped = [];
    /** @var array<string, array{0: float, 1: float}> "folderId\0path" => [due, delay] */
    private array $retries = [];
    /** @var array<string, float> folder id => when its reconcile is due */
    private array $reconcileDue = [];
    private float $mappingsDue = 0.0;
    /** @var array<int, array{0: \OCP\Files\Storage\IStorage, 1: string}> exclusive locks held for a placement, by token */
    private array $placing = [];
    /** @var array<string, true> "folderId/path" whose placement waits for a Nextcloud lock (logged once) */
    private array $waitingForLock = [];
    /** @var array<string, true> folders whose mapped folder was found gone (reported once) */
    private array $gone = [];

    public function __construct(private Config $config, private FolderMap $folders, private LoggerInterface $logger, private ILockingProvider $locks)
    {
    }

    /** Takes the node: throws Harp\Exception\AlreadyRunningException when another daemon owns the state directory. */
    public function open(): Node
    {
        $node = new Node($this->config->stateDir(), [
            'listen' => $this->config->listen(),
            'mdns' => $this->config->mdns(),
            'name' => $this->config->deviceName(),
            'place_gate' => true,
        ]);
        $server = ServerState::systemConfig();
        $this->version = isset($server['version']) ? (string) $server['version'] : null;
        $this->maintenance = ServerState::maintenance($server);
        $this->exitCode = null;
        $this->mapped = [];
        foreach ($this->folders->all() as $m) {
            $this->addToNode($node, $m);
        }
        $node->start();
        foreach ($this->mapped as $m) {
            // What changed while no daemon ran (the outbox kept the hooks' notifies; this finds the rest).
            $node->scan($m->folderId);
            $this->reconcileDue[$m->folderId] = 0.0;
        }
        $this->mappingsDue = microtime(true) + self::MAPPINGS_EVERY;
        $this->node = $node;
        $this->tick();
        return $node;
    }

    /**
     * Polls until $stop() says so, handing each event to apply().
     * @param callable(): bool $stop
     * @param callable(Event): void $onEvent
     */
    public function loop(callable $stop, callable $onEvent): void
    {
        $node = $this->node ?? $this->open();
        while (!$stop() && $this->exitCode === null) {
            $ev = $node->poll(250);
            if ($ev !== null) {
                $this->apply($ev);
                $onEvent($ev);
            }
            $this->tick();
        }
        foreach (array_keys($this->placing) as $token) {
            $this->releasePlacing($token);
        }
        $node->stop();
        $this->node = null;
    }

    /** Brings what an event changed on disk into Nextcloud's file cache. Never throws. */
    public function apply(Event $ev): void
    {
        match ($ev->kind) {
            'place' => $this->place($ev->folderId, $ev->path, $ev->seq),
            'placed' => $this->releasePlacing($ev->seq),
            'file_updated', 'file_deleted' => $this->bring($ev->folderId, $ev->path),
            // A conflict copy was written next to the file it preserves; an
            // event without a path (older extensions) reconciles every folder.
            'conflict' => $ev->path !== '' ? $this->bring($ev->folderId, $ev->path) : $this->reconcileAllSoon(),
            default => null,
        };
    }

    /**
     * The node asks whether a file from a peer may go into place: yes once
     * Nextcloud's exclusive lock on it is ours (held until `placed`), no
     * while someone else holds a lock on it. Never throws; a path Nextcloud
     * does not know (not mapped, folder gone) is let through.
     */
    private function place(string $folderId, string $path, int $token): void
    {
        $node = $this->node;
        if ($node === null) {
            return;
        }
        $go = true;
        $m = $this->mapped[$folderId] ?? null;
        if ($m !== null && !$this->maintenance) {
            try {
                [$storage, $root] = $this->where($m);
                $internal = ltrim("$root/$path", '/');
                $storage->acquireLock($internal, ILockingProvider::LOCK_EXCLUSIVE, $this->locks);
                $this->placing[$token] = [$storage, $internal];
                unset($this->waitingForLock["$folderId/$path"]);
            } catch (LockedException) {
                $go = false;
                if (!isset($this->waitingForLock["$folderId/$path"]) && count($this->waitingForLock) < self::RETRIES_KEPT) {
                    $this->waitingForLock["$folderId/$path"] = true;
                    $this->logger->info("Harp: $folderId/$path waits for Nextcloud's lock on it (an upload or a save in progress) before the version from a peer replaces it", ['app' => 'harpbridge']);
                }
            } catch (\Throwable $e) {
                $this->logger->warning("Harp: could not take Nextcloud's lock on $folderId/$path before placing it: " . $e->getMessage(), ['app' => 'harpbridge']);
            }
        }
        try {
            $node->placeAnswer($token, $go);
        } catch (\Throwable $e) {
            // The request gave up waiting (it asks again with a new token).
            $this->releasePlacing($token);
            $this->logger->info("Harp: answering the place request for $folderId/$path: " . $e->getMessage(), ['app' => 'harpbridge']);
        }
    }

    private function releasePlacing(int $token): void
    {
        $held = $this->placing[$token] ?? null;
        unset($this->placing[$token]);
        if ($held !== null) {
            try {
                $held[0]->releaseLock($held[1], ILockingProvider::LOCK_EXCLUSIVE, $this->locks);
            } catch (\Throwable $e) {
                $this->logger->warning("Harp: releasing Nextcloud's lock on {$held[1]}: " . $e->getMessage(), ['app' => 'harpbridge']);
            }
        }
    }

    /** The periodic work: mappings read again, retries and reconciles that are due. Never throws. */
    public function tick(): void
    {
        $now = microtime(true);
        if ($now >= $this->mappingsDue) {
            $this->mappingsDue = $now + self::MAPPINGS_EVERY;
            // The app config as it is now (Nextcloud caches it per process):
            // read by checkServer, reloadMappings and checkEncryption.
            $this->guard('reading the app config', fn () => $this->config->reload());
            $this->guard('reading config.php', fn () => $this->checkServer());
            $this->guard('reading the folder mappings', fn () => $this->reloadMappings());
            $this->checkRoots();
            $this->guard('checking server-side encryption', fn () => $this->checkEncryption());
        }
        foreach ($this->retries as $key => [$due, $delay]) {
            if ($due <= $now) {
                unset($this->retries[$key]);
                [$folderId, $path] = explode("\0", $key, 2);
                $this->bring($folderId, $path, $delay);
            }
        }
        foreach ($this->reconcileDue as $folderId => $due) {
            if ($due <= $now) {
                $this->reconcile($folderId);
            }
        }
    }

    /** Maintenance mode, an upgrade, the app disabled: what config.php and the app config say now. */
    private function checkServer(): void
    {
        $server = ServerState::systemConfig();
        if ($server === []) {
            return;
        }
        $version = isset($server['version']) ? (string) $server['version'] : null;
        if ($this->version !== null && $version !== null && $version !== $this->version) {
            $this->logger->info("Harp: Nextcloud was upgraded ({$this->version} to $version); harp:daemon stops so that systemd starts it again with the new code", ['app' => 'harpbridge']);
            $this->exitCode = self::EXIT_RESTART;
            return;
        }
        $maintenance = ServerState::maintenance($server);
        if ($maintenance && !$this->maintenance) {
            $this->logger->info('Harp: maintenance mode: harp:daemon writes nothing to the file cache until it ends (files still sync on disk)', ['app' => 'harpbridge']);
        } elseif (!$maintenance && $this->maintenance) {
            $this->logger->info('Harp: maintenance mode ended: bringing what arrived meanwhile into the file cache', ['app' => 'harpbridge']);
            $this->reconcileAllSoon();
        }
        $this->maintenance = $maintenance;
        if (!$this->config->appEnabled()) {
            $this->logger->info('Harp: the harpbridge app was disabled; harp:daemon stops (and systemd does not restart it)', ['app' => 'harpbridge']);
            $this->exitCode = self::EXIT_STOP;
        }
    }

    /** Every folder reconciled at the next tick. */
    private function reconcileAllSoon(): void
    {
        foreach (array_keys($this->mapped) as $id) {
            $this->reconcileDue[$id] = 0.0;
        }
    }

    /**
     * Brings one path of a folder into Nextcloud's cache, under a shared
     * Nextcloud lock on it: a path locked exclusively (an upload, a WebDAV
     * write in progress) is retried later. $delay: the wait before this
     * attempt (0 for a first one).
     */
    private function bring(string $folderId, string $path, float $delay = 0.0): void
    {
        if ($this->maintenance) {
            if ($delay === 0.0) {
                $this->logger->debug("Harp: $folderId/$path held back: maintenance mode", ['app' => 'harpbridge']);
            }
            $this->retry($folderId, $path, $delay);
            return;
        }
        $m = $this->mapped[$folderId] ?? null;
        if ($m === null) {
            $this->logger->warning("Harp: folder '$folderId' changed but is not mapped in this Nextcloud (occ harp:folder:add)", ['app' => 'harpbridge']);
            return;
        }
        try {
            [$storage, $root] = $this->where($m);
            $internal = ltrim("$root/$path", '/');
            $parent = $root;
            foreach (explode('/', $path) as $segment) {
                $storage->verifyPath($parent, $segment);
                $parent = ltrim("$parent/$segment", '/');
            }
            $storage->acquireLock($internal, ILockingProvider::LOCK_SHARED, $this->locks);
            try {
                $updater = $storage->getUpdater();
                $storage->file_exists($internal) ? $updater->update($internal) : $updater->remove($internal);
            } finally {
                $storage->releaseLock($internal, ILockingProvider::LOCK_SHARED, $this->locks);
            }
        } catch (LockedException) {
            if ($delay === 0.0) {
                $this->logger->info("Harp: $folderId/$path is locked in Nextcloud (an upload in progress?); it is brought into the file list when the lock is released", ['app' => 'harpbridge']);
            }
            $this->retry($folderId, $path, $delay);
        } catch (InvalidPathException $e) {
            $this->logger->warning("Harp: '$path' in folder '$folderId' arrived on disk but Nextcloud refuses its name, so it is not in the file list: " . $e->getMessage(), ['app' => 'harpbridge']);
        } catch (\Throwable $e) {
            $this->logger->error("Harp: could not bring $folderId/$path into Nextcloud's file cache (retried at the next reconcile): " . $e->getMessage(), ['app' => 'harpbridge', 'exception' => $e]);
            $this->reconcileWithin($folderId, self::RETRY_MAX);
        }
    }

    /** Tries $path again later: RETRY_FIRST after a first attempt, then twice the last wait, up to RETRY_MAX. */
    private function retry(string $folderId, string $path, float $lastDelay): void
    {
        $delay = $lastDelay === 0.0 ? self::RETRY_FIRST : min(self::RETRY_MAX, $lastDelay * 2);
        if (count($this->retries) >= self::RETRIES_KEPT) {
            // Too many to track one by one: the folder's reconcile finds them all.
            $this->reconcileWithin($folderId, $delay);
            return;
        }
        $this->retries["$folderId\0$path"] = [microtime(true) + $delay, $delay];
    }

    /** Reconciles $folderId in $seconds at the latest. */
    private function reconcileWithin(string $folderId, float $seconds): void
    {
        $this->reconcileDue[$folderId] = min($this->reconcileDue[$folderId] ?? PHP_FLOAT_MAX, microtime(true) + $seconds);
    }

    /**
     * Where a mapped folder is for Nextcloud now: the storage of its node
     * (through the mapping's user) and its internal path there.
     * @return array{0: \OCP\Files\Storage\IStorage, 1: string}
     */
    private function where(Mapping $m): array
    {
        $folder = $this->folders->findFolderNode($m);
        return [$folder->getStorage(), trim((string) $folder->getInternalPath(), '/')];
    }

    /**
     * Brings a mapped folder's cache in line with its disk: Nextcloud's
     * scanner, reusing etags and sizes, then the size difference propagated
     * above the folder. A lock met on the way makes it try again later.
     */
    private function reconcile(string $folderId): void
    {
        $m = $this->mapped[$folderId] ?? null;
        $interval = $this->config->reconcileInterval();
        if ($m === null) {
            unset($this->reconcileDue[$folderId]);
            return;
        }
        if ($this->maintenance) {
            $this->reconcileDue[$folderId] = microtime(true) + self::MAPPINGS_EVERY;
            return;
        }
        try {
            [$storage, $root] = $this->where($m);
            $before = $storage->getCache()->get($root);
            $data = $storage->getScanner()->scan($root, IScanner::SCAN_RECURSIVE, IScanner::REUSE_ETAG | IScanner::REUSE_SIZE);
            $old = $before === false ? 0 : (int) $before['size'];
            $new = is_array($data) ? (int) $data['size'] : $old;
            if ($new !== $old && $old >= 0) {
                $storage->getPropagator()->propagateChange($root, time(), $new - $old);
            }
            $this->reconcileDue[$folderId] = microtime(true) + $interval;
        } catch (LockedException $e) {
            $this->logger->info("Harp: reconciling folder '$folderId' met a lock (" . $e->getMessage() . '); trying again shortly', ['app' => 'harpbridge']);
            $this->reconcileDue[$folderId] = microtime(true) + 2 * self::RETRY_FIRST;
        } catch (\Throwable $e) {
            $this->logger->error("Harp: could not reconcile folder '$folderId' with Nextcloud's file cache: " . $e->getMessage(), ['app' => 'harpbridge', 'exception' => $e]);
            $this->reconcileDue[$folderId] = microtime(true) + $interval;
        }
    }

    /**
     * Reports a mapped folder that is gone from Nextcloud (deleted or moved
     * where the app could not refuse it: on disk, by another app): once,
     * as an error that says what to do, and again when it is back.
     */
    private function checkRoots(): void
    {
        foreach ($this->mapped as $id => $m) {
            try {
                $this->folders->findFolderNode($m);
                if (isset($this->gone[$id])) {
                    unset($this->gone[$id]);
                    $this->logger->info("Harp: the folder mapped as '$id' ({$m->user}: {$m->path}) is back", ['app' => 'harpbridge']);
                    $this->reconcileDue[$id] = 0.0;
                }
            } catch (\Throwable $e) {
                if (!isset($this->gone[$id])) {
                    $this->gone[$id] = true;
                    $this->logger->error("Harp: the folder mapped as '$id' ({$m->user}: {$m->path}) is gone from Nextcloud (" . $e->getMessage() . "); nothing from peers reaches the file list until it is back. Restore it, or unmap it: occ harp:folder:remove $id", ['app' => 'harpbridge']);
                }
            }
        }
    }

    /**
     * Pauses every mapped folder while Nextcloud's server-side encryption is
     * on (its files on disk are ciphertext, which must not reach peers), and
     * resumes them when it is off again. The pause is kept in the mapping,
     * so harp:folder:list, the admin page and the listener see it.
     */
    private function checkEncryption(): void
    {
        $node = $this->node;
        if ($node === null) {
            return;
        }
        $why = $this->folders->encryptionReason();
        foreach ($this->mapped as $id => $m) {
            if ($why !== null && $m->paused === null) {
                $m = $m->withPaused($why);
                $this->folders->setPaused($id, $why);
                $this->addToNode($node, $m);
                $this->logger->error("Harp: folder '$id' is paused: $why. It resumes when encryption is disabled (occ encryption:disable).", ['app' => 'harpbridge']);
            } elseif ($why === null && $m->paused !== null) {
                $m = $m->withPaused(null);
                $this->folders->setPaused($id, null);
                $this->addToNode($node, $m);
                $node->scan($id);
                $this->reconcileDue[$id] = 0.0;
                $this->logger->info("Harp: folder '$id' resumes: server-side encryption is off", ['app' => 'harpbridge']);
            }
        }
    }

    /** Applies mappings added, changed or removed since the last read. */
    private function reloadMappings(): void
    {
        $node = $this->node;
        if ($node === null) {
            return;
        }
        $now = [];
        foreach ($this->folders->all() as $m) {
            $now[$m->folderId] = $m;
        }
        foreach ($now as $id => $m) {
            $was = $this->mapped[$id] ?? null;
            if ($was === null || $was->localPath !== $m->localPath || $was->devices !== $m->devices || $was->paused !== $m->paused) {
                $this->addToNode($node, $m);
                $node->scan($id);
                $this->reconcileDue[$id] = 0.0;
                $this->logger->info("Harp: folder '$id' is mapped to {$m->user}:{$m->path}; syncing it", ['app' => 'harpbridge']);
            }
        }
        foreach ($this->mapped as $id => $was) {
            if (!isset($now[$id])) {
                // The extension keeps a folder it once synced; shared with no
                // device, nothing goes out of it or comes into it any more.
                $node->addFolder($id, $was->localPath, ['devices' => []]);
                unset($this->mapped[$id], $this->reconcileDue[$id]);
                foreach (array_keys($this->retries) as $key) {
                    if (str_starts_with($key, "$id\0")) {
                        unset($this->retries[$key]);
                    }
                }
                $this->logger->info("Harp: folder '$id' is no longer mapped; its files stay in Nextcloud and it is synced with no device", ['app' => 'harpbridge']);
            }
        }
    }

    private function addToNode(Node $node, Mapping $m): void
    {
        // Whom it is shared with, as the mapping says (harp:folder:add
        // --device, harp:folder:share and :unshare keep it): without
        // 'devices' the node shares it with every trusted device.
        // A paused folder is shared with no device: nothing goes out or comes in.
        $node->addFolder($m->folderId, $m->localPath, match (true) {
            $m->paused !== null => ['devices' => []],
            $m->devices === null => ['all_devices' => true],
            default => ['devices' => $m->devices],
        });
        $this->mapped[$m->folderId] = $m;
    }

    private function guard(string $what, callable $fn): void
    {
        try {
            $fn();
        } catch (\Throwable $e) {
            $this->logger->error("Harp: $what failed: " . $e->getMessage(), ['app' => 'harpbridge', 'exception' => $e]);
        }
    }
}
