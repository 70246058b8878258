<?php
/**
 * Test stand-in for OCP\AppFramework\Http\Response.
 * Mirrors nextcloud/server lib/public/AppFramework/Http/Response.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 * Checked: signatures (class kind, parent, interfaces; for each method
 * and constant the stand-in declares: parameters, defaults, return type,
 * value) compared by tests/check-stubs.php with OCP/AppFramework/Http/Response.php in nextcloud-deps/ocp, which is
 * nextcloud/server lib/public per branch: stable28 8f6935d8,
 * stable29 b4e88c70, stable30 48ecbcae, stable31 5ac47a53.
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
