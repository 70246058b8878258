<?php
/**
 * Test stand-in for OCP\AppFramework\Http.
 * Mirrors nextcloud/server lib/public/AppFramework/Http.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 */

declare(strict_types=1);

namespace OCP\AppFramework;

class Http
{
    public const STATUS_OK = 200;
    public const STATUS_BAD_REQUEST = 400;
    public const STATUS_SERVICE_UNAVAILABLE = 503;
}
