<?php
/**
 * The loop behind `occ harp:daemon`: owns the Harp node for the state
 * directory (one process per directory, enforced by the extension's lock),
 * syncs every mapped folder, and brings each file a peer sends into
 * Nextcloud's file cache through the storage's scanner for that one path,
 * so it appears without `occ files:scan`.
 *
 * The scan makes Nextcloud emit cache events, which reach our own listener
 * and become a notify; the extension drops a notify whose content equals the
 * version it just applied, so nothing echoes back to the peers.
 */

declare(strict_types=1);

namespace OCA\Harp;

use Harp\Event;
use Harp\Node;
use OCP\Files\Cache\IScanner;
use Psr\Log\LoggerInterface;

class Daemon
{
    private ?Node $node = null;

    public function __construct(private Config $config, private FolderMap $folders, private LoggerInterface $logger)
    {
    }

    /** Takes the node: throws Harp\Exception\AlreadyRunningException when another daemon owns the state directory. */
    public function open(): Node
    {
        $node = new Node($this->config->stateDir(), [
            'listen' => $this->config->listen(),
            'mdns' => $this->config->mdns(),
            'name' => $this->config->deviceName(),
        ]);
        foreach ($this->folders->all() as $m) {
            // Whom it is shared with, as the mapping says (harp:folder:add
            // --device, harp:folder:share and :unshare keep it): without
            // 'devices' the node shares it with every trusted device.
            $node->addFolder($m->folderId, $m->localPath, $m->devices === null ? [] : ['devices' => $m->devices]);
        }
        $node->start();
        foreach ($this->folders->all() as $m) {
            // What changed while no daemon ran (the outbox kept the hooks' notifies; this finds the rest).
            $node->scan($m->folderId);
        }
        return $this->node = $node;
    }

    /**
     * Polls until $stop() says so, handing each event to apply().
     * @param callable(): bool $stop
     * @param callable(Event): void $onEvent
     */
    public function loop(callable $stop, callable $onEvent): void
    {
        $node = $this->node ?? $this->open();
        while (!$stop()) {
            $ev = $node->poll(250);
            if ($ev !== null) {
                $this->apply($ev);
                $onEvent($ev);
            }
        }
        $node->stop();
        $this->node = null;
    }

    /** Brings what an event changed on disk into Nextcloud's file cache. Never throws. */
    public function apply(Event $ev): void
    {
        try {
            match ($ev->kind) {
                'file_updated', 'file_deleted' => $this->scanPath($ev->folderId, $ev->path),
                // A conflict copy was written next to the file it preserves; an
                // event without a path (older extensions) rescans every folder.
                'conflict' => $ev->path !== '' ? $this->scanPath($ev->folderId, $ev->path) : $this->scanAll(),
                default => null,
            };
        } catch (\Throwable $e) {
            $this->logger->error("Harp: could not bring {$ev->kind} {$ev->folderId}/{$ev->path} into Nextcloud's file cache: " . $e->getMessage(), ['app' => 'harpbridge', 'exception' => $e]);
        }
    }

    private function scanPath(string $folderId, string $path): void
    {
        $m = $this->folders->get($folderId);
        if ($m === null) {
            $this->logger->warning("Harp: folder '$folderId' changed but is not mapped in this Nextcloud (occ harp:folder:add, then restart harp:daemon)", ['app' => 'harpbridge']);
            return;
        }
        $folder = $this->folders->findFolderNode($m);
        $storage = $folder->getStorage();
        $internal = ltrim($folder->getInternalPath() . '/' . $path, '/');
        // scanFile adds, updates or (when the file is gone) removes the entry
        // for this one path, adding missing parent folders on the way.
        $storage->getScanner()->scanFile($internal);
        // New etags and sizes up to the root, so sync clients see the change.
        $storage->getPropagator()->propagateChange($internal, time());
    }

    private function scanAll(): void
    {
        foreach ($this->folders->all() as $m) {
            $folder = $this->folders->findFolderNode($m);
            $folder->getStorage()->getScanner()->scan($folder->getInternalPath(), IScanner::SCAN_RECURSIVE, IScanner::REUSE_ETAG | IScanner::REUSE_SIZE);
        }
    }
}
