<?php
/**
 * Test stand-in for OCP\Files\Events\Node\NodeDeletedEvent.
 * Mirrors nextcloud/server lib/public/Files/Events/Node/NodeDeletedEvent.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 */

declare(strict_types=1);

namespace OCP\Files\Events\Node;

class NodeDeletedEvent extends AbstractNodeEvent
{
}
