<?php
/**
 * Test stand-in for OCP\Files\Events\Node\AbstractNodeEvent.
 * Mirrors nextcloud/server lib/public/Files/Events/Node/AbstractNodeEvent.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 * Checked: signatures (class kind, parent, interfaces; for each method
 * and constant the stand-in declares: parameters, defaults, return type,
 * value) compared by tests/check-stubs.php with OCP/Files/Events/Node/AbstractNodeEvent.php in nextcloud-deps/ocp, which is
 * nextcloud/server lib/public per branch: stable28 8f6935d8,
 * stable29 b4e88c70, stable30 48ecbcae, stable31 5ac47a53.
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
