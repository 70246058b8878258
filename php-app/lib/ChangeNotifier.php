<?php
/**
 * The one code path from a Nextcloud file change to Harp: the typed
 * listeners, the cache events and the legacy post_write hook all end here.
 * It maps the change to its Harp folder (FolderMap: by the storage and path
 * under every jail, so a group folder member's or a share recipient's
 * change matches the mapping as the owner's does), drops paths that are never synced,
 * and calls Harp\Client::notify (through the bridge) at once: a record in the
 * durable outbox, no network, no hashing.
 *
 * Nothing here throws into Nextcloud's request: every failure is logged
 * through Nextcloud's logger. When the precise notify fails (a rename the
 * node refuses), the change is sent in its plainest form (delete the old
 * path, write the new one), so it still reaches the outbox.
 */

declare(strict_types=1);

namespace OCA\Harp;

use OCA\Harp\Bridge\Bridge;
use OCP\Files\FileInfo;
use OCP\Files\Node;
use Psr\Log\LoggerInterface;

class ChangeNotifier
{
    /**
     * "folderId/rel" of both ends of each rename under way in this request
     * (from BeforeNodeRenamedEvent until NodeRenamedEvent). Nextcloud's
     * Cache::move dispatches CacheEntryUpdatedEvent for the new path (or,
     * across storages, removed + inserted events), and the Updater updates
     * its mtime; those cache events are the rename itself, which
     * NodeRenamedEvent reports, not writes.
     * @var array<string, true>
     */
    private array $renaming = [];

    /**
     * The files of each folder about to be deleted in this request, listed
     * on disk at BeforeNodeDeletedEvent (NodeDeletedEvent comes when they are
     * gone): node path => [mapping, list of relative paths].
     * @var array<string, array{0: Mapping, 1: list<string>}>
     */
    private array $deleting = [];

    /**
     * One notify per change. A write through Nextcloud's View fires
     * BeforeNodeWrittenEvent, then a cache event (the Updater), then
     * NodeCreatedEvent for a new file and NodeWrittenEvent last (and the
     * legacy post_write hook beside it); a delete fires BeforeNodeDeletedEvent,
     * a cache event, then NodeDeletedEvent. So each file's operation under
     * way is noted here, "folderId/rel" => [state, since]: 'writing' or
     * 'deleting' from the Before* event (its cache events and
     * NodeCreatedEvent are left to the final node event), 'sent:written'
     * or 'sent:legacy' once NodeWrittenEvent or the legacy hook has sent it
     * (the other one then stops). A cache event outside
     * such an operation (the scanner, occ files:scan, external storage) is
     * sent as it comes. A state older than OP_TTL seconds is forgotten (an
     * operation that failed halfway fires no final event).
     * @var array<string, array{0: string, 1: float}>
     */
    private array $ops = [];

    private const OP_TTL = 60.0;
    private const OPS_KEPT = 1024;

    public function __construct(
        private FolderMap $folders,
        private Bridge $bridge,
        private LoggerInterface $logger,
    ) {
    }

    /** A node is about to be renamed or moved: hold back the cache events of both paths until renamed(). */
    public function renaming(Node $source, Node $target): void
    {
        $this->guard(function () use ($source, $target) {
            foreach ([$source, $target] as $node) {
                $key = $this->keyOf($node);
                if ($key !== null) {
                    $this->renaming[$key] = true;
                }
            }
        });
    }

    /** A node is about to be written through Nextcloud's View (BeforeNodeWrittenEvent). */
    public function writing(Node $node): void
    {
        $this->guard(function () use ($node) {
            if ($node->getType() === FileInfo::TYPE_FOLDER) {
                return;
            }
            $key = $this->keyOf($node);
            if ($key !== null) {
                $this->setOp($key, 'writing');
            }
        });
    }

    /**
     * A node was created ($final false: NodeCreatedEvent, NodeWrittenEvent
     * follows when the View wrote it) or written ($final true:
     * NodeWrittenEvent, the last event of a write).
     */
    public function written(Node $node, bool $final = true): void
    {
        $this->guard(function () use ($node, $final) {
            if ($node->getType() === FileInfo::TYPE_FOLDER) {
                return; // Harp syncs files; a folder appears with its first file
            }
            $this->sendOnce($node->getPath(), $this->folders->locateNode($node), $final ? 'written' : 'created');
        });
    }

    /** A node is about to be deleted: for a folder, list its files on disk (no hashing) while they are there. */
    public function deleting(Node $node): void
    {
        $this->guard(function () use ($node) {
            if ($node->getType() !== FileInfo::TYPE_FOLDER) {
                // Its cache event is left to NodeDeletedEvent.
                $key = $this->keyOf($node);
                if ($key !== null) {
                    $this->setOp($key, 'deleting');
                }
                return;
            }
            if (PathFilter::ignored($node->getPath()) !== null) {
                return;
            }
            $hit = $this->folders->locateNode($node);
            if ($hit !== null) {
                $files = [];
                $this->walk($hit[0], $hit[1], function (string $rel) use (&$files) {
                    $files[] = $rel;
                });
                $this->deleting[$node->getPath()] = [$hit[0], $files];
            }
        });
    }

    /** A node was deleted (or moved to the trash bin). */
    public function deleted(Node $node): void
    {
        $this->guard(function () use ($node) {
            $listed = $this->deleting[$node->getPath()] ?? null;
            unset($this->deleting[$node->getPath()]);
            if ($listed !== null) {
                foreach ($listed[1] as $rel) {
                    $this->send($listed[0], $rel, 'delete');
                }
                return;
            }
            if ($node->getType() === FileInfo::TYPE_FOLDER) {
                $this->folderGone($node);
                return;
            }
            $hit = $this->folders->locateNode($node);
            if ($hit !== null) {
                $this->setOp($hit[0]->folderId . '/' . $hit[1], null);
                if (PathFilter::ignored($node->getPath()) === null) {
                    $this->send($hit[0], $hit[1], 'delete');
                }
            }
        });
    }

    /** A node was renamed or moved: within one Harp folder a rename, across folders a delete and a write. */
    public function renamed(Node $source, Node $target): void
    {
        $this->renaming = [];
        $this->guard(function () use ($source, $target) {
            $from = $this->folders->locateNode($source);
            $to = $this->folders->locateNode($target);
            if ($target->getType() === FileInfo::TYPE_FOLDER) {
                // Every file below moved: rename each (the node knows their content, so no hashing).
                if ($from !== null) {
                    $this->folderGone($source, $to !== null && $to[0]->folderId === $from[0]->folderId ? [$from[1], $to[1], $to[0]] : null);
                } elseif ($to !== null) {
                    $this->walk($to[0], $to[1], fn (string $rel) => $this->send($to[0], $rel, 'write'));
                }
                return;
            }
            if ($from !== null && $to !== null && $from[0]->folderId === $to[0]->folderId) {
                $this->send($to[0], $to[1], 'rename', $from[1]);
            } else {
                if ($from !== null) {
                    $this->send($from[0], $from[1], 'delete');
                }
                if ($to !== null) {
                    $this->send($to[0], $to[1], 'write');
                }
            }
        });
    }

    /** A cache entry was inserted, updated or removed (the scanner, external storage, occ files:scan). */
    public function cacheChanged(int $storageId, string $internalPath, string $kind): void
    {
        $this->guard(function () use ($storageId, $internalPath, $kind) {
            if (PathFilter::ignored($internalPath) !== null) {
                return;
            }
            $hit = $this->folders->locateInStorage($storageId, $internalPath);
            if ($hit === null) {
                return;
            }
            [$m, $rel] = $hit;
            $key = $m->folderId . '/' . $rel;
            if (isset($this->renaming[$key])) {
                return; // part of a rename; NodeRenamedEvent reports it
            }
            $op = $this->opState($key);
            if (($kind === 'write' && $op === 'writing') || ($kind === 'delete' && $op === 'deleting')) {
                return; // part of a write or delete under way; its node event reports it
            }
            if ($kind === 'write' && is_dir($m->localPath . '/' . $rel)) {
                return;
            }
            $this->send($m, $rel, $kind);
        });
    }

    /** The legacy OC_Filesystem post_write hook: a path in $user's files (beside NodeWrittenEvent). */
    public function legacyWrite(string $user, string $pathInFiles): void
    {
        $this->guard(function () use ($user, $pathInFiles) {
            $this->sendOnce('/' . $user . '/files/' . ltrim($pathInFiles, '/'), $this->folders->locateUserPath($user, $pathInFiles), 'legacy');
        });
    }

    /**
     * Sends the write of $nodePath once per operation. $via: 'created'
     * (NodeCreatedEvent, which waits for NodeWrittenEvent when a write is
     * under way), 'written' (NodeWrittenEvent) or 'legacy' (the post_write
     * hook, fired beside NodeWrittenEvent): of those two, the second finds
     * the write sent by the other and stops there.
     */
    private function sendOnce(string $nodePath, ?array $hit, string $via): void
    {
        if (PathFilter::ignored($nodePath) !== null) {
            return;
        }
        if ($hit === null) {
            return;
        }
        [$m, $rel] = $hit;
        $key = $m->folderId . '/' . $rel;
        $op = $this->opState($key);
        if (($via === 'written' && $op === 'sent:legacy') || ($via === 'legacy' && $op === 'sent:written')) {
            $this->setOp($key, null);
            return;
        }
        if ($via === 'created' && $op === 'writing') {
            return;
        }
        $this->send($m, $rel, 'write');
        if ($via !== 'created') {
            $this->setOp($key, 'sent:' . $via);
        }
    }

    /** "folderId/rel" of a node in a mapped folder, or null. */
    private function keyOf(Node $node): ?string
    {
        $hit = $this->folders->locateNode($node);
        return $hit === null ? null : $hit[0]->folderId . '/' . $hit[1];
    }

    private function opState(string $key): ?string
    {
        $op = $this->ops[$key] ?? null;
        if ($op === null || microtime(true) - $op[1] > self::OP_TTL) {
            return null;
        }
        return $op[0];
    }

    private function setOp(string $key, ?string $state): void
    {
        unset($this->ops[$key]);
        if ($state === null) {
            return;
        }
        if (count($this->ops) >= self::OPS_KEPT) {
            array_shift($this->ops); // the oldest
        }
        $this->ops[$key] = [$state, microtime(true)];
    }

    /**
     * A folder was deleted, or moved ($moved = [old rel, new rel, mapping]
     * when it stayed in the same Harp folder). Its files are not listed by
     * Nextcloud's event; for a move they are on disk at the new place. For a
     * delete without a BeforeNodeDeletedEvent (so no list, see deleting())
     * the running node is asked to rescan the Harp folder, which waits for
     * that scan.
     */
    private function folderGone(Node $node, ?array $moved = null): void
    {
        $hit = $this->folders->locateNode($node);
        if ($hit === null || PathFilter::ignored($node->getPath()) !== null) {
            return;
        }
        [$m, $rel] = $hit;
        if ($moved !== null) {
            [$oldRel, $newRel, $mTo] = $moved;
            $this->walk($mTo, $newRel, fn (string $f) => $this->send($m, $f, 'rename', $oldRel . substr($f, strlen($newRel))));
            return;
        }
        try {
            $this->bridge->scan($m->folderId);
        } catch (\Throwable $e) {
            $this->logger->warning("Harp: folder '$rel' was deleted from '{$m->folderId}'; the daemon records it at its next scan (" . $e->getMessage() . ')', ['app' => 'harpbridge']);
        }
    }

    /** Calls $each with the relative path of every file under $rel in $m, on disk. */
    private function walk(Mapping $m, string $rel, callable $each): void
    {
        $dir = $m->localPath . '/' . $rel;
        if (!is_dir($dir)) {
            return;
        }
        $it = new \RecursiveIteratorIterator(new \RecursiveDirectoryIterator($dir, \FilesystemIterator::SKIP_DOTS));
        foreach ($it as $file) {
            if ($file->isFile()) {
                $each($rel . substr($file->getPathname(), strlen($dir)));
            }
        }
    }

    /** notify, with the plain fallback for a refused rename; logs instead of throwing. */
    private function send(Mapping $m, string $rel, string $kind, ?string $from = null): void
    {
        if (PathFilter::ignoredInFolder($rel) !== null || $m->paused !== null) {
            return; // never synced, or a paused folder (server-side encryption on: ciphertext)
        }
        $folderId = $m->folderId;
        try {
            $this->bridge->notify($folderId, $rel, $kind, $from);
        } catch (\Throwable $e) {
            $this->logger->error("Harp: could not notify $kind of '$rel' in folder '$folderId': " . $e->getMessage(), ['app' => 'harpbridge', 'exception' => $e]);
            if ($kind === 'rename' && $from !== null) {
                $this->send($m, $from, 'delete');
                $this->send($m, $rel, 'write');
            }
        }
    }

    private function guard(callable $fn): void
    {
        try {
            $fn();
        } catch (\Throwable $e) {
            $this->logger->error('Harp: a file event was not handled: ' . $e->getMessage(), ['app' => 'harpbridge', 'exception' => $e]);
        }
    }
}
