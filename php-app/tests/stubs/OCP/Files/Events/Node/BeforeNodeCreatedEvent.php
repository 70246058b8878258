<?php
/**
 * Test stand-in for OCP\Files\Events\Node\BeforeNodeCreatedEvent.
 * Mirrors nextcloud/server lib/public/Files/Events/Node/BeforeNodeCreatedEvent.php
 * (since Nextcloud 20, unchanged through 31): an AbstractNodeEvent, read at
 * commit 01f0c334. HookConnector (lib/private/Files/Node/HookConnector.php,
 * master 0ef014aa) dispatches it from the View's pre hook, before the
 * storage is written; View::file_put_contents then updates the cache
 * (CacheEntryInserted/UpdatedEvent) and only then emits the post hooks
 * (NodeCreatedEvent for a new file, then NodeWrittenEvent).
 * Checked by reading, not yet by tests/check-stubs.php: a class with no
 * members of its own, the same since Nextcloud 20.
 */

declare(strict_types=1);

namespace OCP\Files\Events\Node;

class BeforeNodeCreatedEvent extends AbstractNodeEvent
{
}
