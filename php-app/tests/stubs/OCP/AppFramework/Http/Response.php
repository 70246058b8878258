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
    private $status;
    private $headers;

    public function __construct(int $status = Http::STATUS_OK, array $headers = [])
    {
        $this->setStatus($status);
        $this->headers = $headers;
    }

    public function setStatus($status): static
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
