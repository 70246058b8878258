<?php
/**
 * Test stand-in for OCP\AppFramework\Http\Response.
 * Mirrors nextcloud/server lib/public/AppFramework/Http/Response.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 */

declare(strict_types=1);

namespace OCP\AppFramework\Http;

use OCP\AppFramework\Http;

class Response
{
    private int $status = Http::STATUS_OK;

    public function setStatus($status)
    {
        $this->status = $status;
        return $this;
    }

    public function getStatus()
    {
        return $this->status;
    }

    public function render()
    {
        return '';
    }
}
