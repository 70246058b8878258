<?php
/**
 * Test stand-in for OCP\Files\Events\Node\BeforeNodeRenamedEvent.
 * Mirrors nextcloud/server lib/public/Files/Events/Node/BeforeNodeRenamedEvent.php
 * as of Nextcloud 29-31: an AbstractNodesEvent (source, and the target, which
 * does not exist yet), dispatched before the storage and its file cache move.
 * Nextcloud 28's constructor takes a third parameter, bool &$run; harpbridge
 * only reads getSource()/getTarget(), which are the same in 28-31.
 * abortOperation() is left out: harpbridge never aborts a rename.
 */

declare(strict_types=1);

namespace OCP\Files\Events\Node;

class BeforeNodeRenamedEvent extends AbstractNodesEvent
{
}
