<?php
/**
 * Test stand-in for OCP\AppFramework\Http\JSONResponse.
 * Mirrors nextcloud/server lib/public/AppFramework/Http/JSONResponse.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 * Checked: signatures (class kind, parent, interfaces; for each method
 * and constant the stand-in declares: parameters, defaults, return type,
 * value) compared by tests/check-stubs.php with OCP/AppFramework/Http/JSONResponse.php in nextcloud-deps/ocp, which is
 * nextcloud/server lib/public per branch: stable28 8f6935d8,
 * stable29 b4e88c70, stable30 48ecbcae, stable31 5ac47a53; 30-31 add
 * a fourth constructor parameter, int $encodeFlags = 0.
 */

declare(strict_types=1);

namespace OCP\AppFramework\Http;

use OCP\AppFramework\Http;

class JSONResponse extends Response
{
    protected $data;

    /** Nextcloud 30 adds a fourth parameter, int $encodeFlags = 0; harpbridge does not pass it. */
    public function __construct(mixed $data = [], int $statusCode = Http::STATUS_OK, array $headers = [])
    {
        parent::__construct($statusCode, $headers);
        $this->data = $data;
    }

    public function getData()
    {
        return $this->data;
    }

    public function render()
    {
        return json_encode($this->data, JSON_HEX_TAG | JSON_THROW_ON_ERROR, 2048);
    }
}
