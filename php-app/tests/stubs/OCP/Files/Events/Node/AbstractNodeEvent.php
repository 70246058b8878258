<?php
/**
 * Test stand-in for OCP\Files\Events\Node\AbstractNodeEvent.
 * Mirrors nextcloud/server lib/public/Files/Events/Node/AbstractNodeEvent.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 */

declare(strict_types=1);

namespace OCP\Files\Events\Node;

use OCP\EventDispatcher\Event;
use OCP\Files\Node;

abstract class AbstractNodeEvent extends Event
{
    public function __construct(private Node $node)
    {
        parent::__construct();
    }

    public function getNode(): Node
    {
        return $this->node;
    }
}
