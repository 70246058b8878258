<?php
/**
 * Test stand-in for OCP\Files\Events\Node\AbstractNodesEvent.
 * Mirrors nextcloud/server lib/public/Files/Events/Node/AbstractNodesEvent.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 */

declare(strict_types=1);

namespace OCP\Files\Events\Node;

use OCP\EventDispatcher\Event;
use OCP\Files\Node;

abstract class AbstractNodesEvent extends Event
{
    public function __construct(private Node $source, private Node $target)
    {
        parent::__construct();
    }

    public function getSource(): Node
    {
        return $this->source;
    }

    public function getTarget(): Node
    {
        return $this->target;
    }
}
