<?php
/**
 * Stand-in for OCP\Files\Events\Node\BeforeNodeRenamedEvent (nextcloud/server
 * lib/public/Files/Events/Node/BeforeNodeRenamedEvent.php at
 * 2f815df0f8b7f02be7bccd13bc9e8ccc12e80a21): abortOperation() (since 28)
 * throws AbortedEventException, which OC\Files\Node\HookConnector catches
 * to cancel the operation.
 */

declare(strict_types=1);

namespace OCP\Files\Events\Node;

use OCP\Exceptions\AbortedEventException;

class BeforeNodeRenamedEvent extends AbstractNodesEvent
{
    public function abortOperation(?\Throwable $ex = null)
    {
        throw new AbortedEventException($ex?->getMessage() ?? 'Operation aborted');
    }
}
