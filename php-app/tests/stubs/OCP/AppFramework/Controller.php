<?php
/**
 * Test stand-in for OCP\AppFramework\Controller.
 * Mirrors nextcloud/server lib/public/AppFramework/Controller.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 */

declare(strict_types=1);

namespace OCP\AppFramework;

use OCP\IRequest;

abstract class Controller
{
    protected $appName;
    protected $request;

    public function __construct($appName, IRequest $request)
    {
        $this->appName = $appName;
        $this->request = $request;
    }
}
