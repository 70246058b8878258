<?php
/**
 * Nextcloud's typed file events -> ChangeNotifier. Node events come from
 * writes through Nextcloud (WebDAV, the web UI, apps); cache events from
 * changes its scanner found (occ files:scan, external storage, the daemon
 * bringing in a file from a peer, which the extension does not echo back).
 *
 * @template-implements IEventListener<Event>
 */

declare(strict_types=1);

namespace OCA\Harp\Listener;

use OCA\Harp\ChangeNotifier;
use OCA\Harp\FolderMap;
use OCP\EventDispatcher\Event;
use OCP\EventDispatcher\IEventListener;
use OCP\Files\Cache\CacheEntryInsertedEvent;
use OCP\Files\Cache\CacheEntryRemovedEvent;
use OCP\Files\Cache\CacheEntryUpdatedEvent;
use OCP\Files\Events\Node\BeforeNodeDeletedEvent;
use OCP\Files\Events\Node\BeforeNodeRenamedEvent;
use OCP\Files\Events\Node\BeforeNodeWrittenEvent;
use OCP\Files\Events\Node\NodeCreatedEvent;
use OCP\Files\Events\Node\NodeDeletedEvent;
use OCP\Files\Events\Node\NodeRenamedEvent;
use OCP\Files\Events\Node\NodeWrittenEvent;

class FileEventListener implements IEventListener
{
    public function __construct(private ChangeNotifier $notifier, private FolderMap $folders)
    {
    }

    public function handle(Event $event): void
    {
        if ($event instanceof BeforeNodeDeletedEvent || $event instanceof BeforeNodeRenamedEvent) {
            $this->keepMappedRoots($event);
        }
        // ChangeNotifier never throws; the match has no default so an
        // unrelated event is simply ignored.
        match (true) {
            $event instanceof BeforeNodeWrittenEvent => $this->notifier->writing($event->getNode()),
            $event instanceof NodeCreatedEvent => $this->notifier->written($event->getNode(), false),
            $event instanceof NodeWrittenEvent => $this->notifier->written($event->getNode(), true),
            $event instanceof BeforeNodeDeletedEvent => $this->notifier->deleting($event->getNode()),
            $event instanceof NodeDeletedEvent => $this->notifier->deleted($event->getNode()),
            $event instanceof BeforeNodeRenamedEvent => $this->notifier->renaming($event->getSource(), $event->getTarget()),
            $event instanceof NodeRenamedEvent => $this->notifier->renamed($event->getSource(), $event->getTarget()),
            $event instanceof CacheEntryInsertedEvent, $event instanceof CacheEntryUpdatedEvent => $this->notifier->cacheChanged($event->getStorageId(), $event->getPath(), 'write'),
            $event instanceof CacheEntryRemovedEvent => $this->notifier->cacheChanged($event->getStorageId(), $event->getPath(), 'delete'),
            default => null,
        };
    }

    /**
     * A mapped folder (or a folder above one) may not be deleted or moved:
     * the mapping would point at nothing and the folder would silently stop
     * syncing. The operation is refused with the reason (abortOperation,
     * Nextcloud 28+, which HookConnector turns into a cancelled operation);
     * unmap it first with occ harp:folder:remove.
     */
    private function keepMappedRoots(BeforeNodeDeletedEvent|BeforeNodeRenamedEvent $event): void
    {
        try {
            $node = $event instanceof BeforeNodeDeletedEvent ? $event->getNode() : $event->getSource();
            $mapped = $this->folders->mappedWithin($node);
        } catch (\Throwable) {
            return; // never break a request over this check
        }
        if ($mapped === [] || !method_exists($event, 'abortOperation')) {
            return;
        }
        $what = $event instanceof BeforeNodeDeletedEvent ? 'deleted' : 'moved or renamed';
        $m = $mapped[0];
        $event->abortOperation(new \RuntimeException("'{$node->getPath()}' cannot be $what: it holds the folder that Harp syncs as '{$m->folderId}' ({$m->user}: {$m->path}). Unmap it first: occ harp:folder:remove {$m->folderId}"));
    }
}
