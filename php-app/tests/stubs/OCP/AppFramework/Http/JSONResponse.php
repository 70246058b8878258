<?php
/**
 * Test stand-in for OCP\AppFramework\Http\JSONResponse.
 * Mirrors nextcloud/server lib/public/AppFramework/Http/JSONResponse.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 */

declare(strict_types=1);

namespace OCP\AppFramework\Http;

use OCP\AppFramework\Http;

class JSONResponse extends Response
{
    protected $data;

    public function __construct($data = [], int $statusCode = Http::STATUS_OK)
    {
        $this->data = $data;
        $this->setStatus($statusCode);
    }

    public function getData()
    {
        return $this->data;
    }

    public function render()
    {
        return json_encode($this->data, JSON_HEX_TAG);
    }
}
