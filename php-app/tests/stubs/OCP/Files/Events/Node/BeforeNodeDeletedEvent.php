<?php
/**
 * Test stand-in for OCP\Files\Events\Node\BeforeNodeDeletedEvent.
 * Mirrors nextcloud/server lib/public/Files/Events/Node/BeforeNodeDeletedEvent.php
 * as of Nextcloud 29-31: an AbstractNodeEvent whose node still exists,
 * dispatched before the storage deletes it. Nextcloud 28's constructor takes
 * a second parameter, bool &$run; harpbridge only reads getNode(), the same
 * in 28-31. abortOperation() is left out: harpbridge never aborts a delete.
 * Checked: signatures (class kind, parent, interfaces; for each method
 * and constant the stand-in declares: parameters, defaults, return type,
 * value) compared by tests/check-stubs.php with OCP/Files/Events/Node/BeforeNodeDeletedEvent.php in nextcloud-deps/ocp, which is
 * nextcloud/server lib/public per branch: stable28 8f6935d8,
 * stable29 b4e88c70, stable30 48ecbcae, stable31 5ac47a53; 28 differs
 * as said above.
 */

declare(strict_types=1);

namespace OCP\Files\Events\Node;

class BeforeNodeDeletedEvent extends AbstractNodeEvent
{
}
