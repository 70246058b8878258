<?php
/**
 * Pairing from the admin settings (js/admin.js posts here): trust (after
 * the admin confirmed the IDs were compared, and their password: trusting
 * a device lets it write into users' files) or untrust a device.
 * Admin-only: Nextcloud requires an admin for controller methods without
 * #[NoAdminRequired], and checks the request token.
 */

declare(strict_types=1);

namespace OCA\Harp\Controller;

use OCA\Harp\Bridge\Bridge;
use OCP\AppFramework\Controller;
use OCP\AppFramework\Http;
use OCP\AppFramework\Http\Attribute\PasswordConfirmationRequired;
use OCP\AppFramework\Http\JSONResponse;
use OCP\IL10N;
use OCP\IRequest;

class PairingController extends Controller
{
    public function __construct(IRequest $request, private Bridge $bridge, private IL10N $l)
    {
        parent::__construct('harpbridge', $request);
    }

    #[PasswordConfirmationRequired]
    public function trust(string $deviceId = '', string $compared = ''): JSONResponse
    {
        if ($compared !== '1') {
            return new JSONResponse(['ok' => false, 'message' => $this->l->t('Compare the device ID with the one shown on that device first, then tick the box.')], Http::STATUS_BAD_REQUEST);
        }
        try {
            $this->bridge->trust($deviceId);
        } catch (\Throwable $e) {
            return new JSONResponse(['ok' => false, 'message' => $e->getMessage()], Http::STATUS_BAD_REQUEST);
        }
        return new JSONResponse(['ok' => true, 'message' => $this->l->t('Trusted %s. Trust this server on that device too.', [$deviceId])]);
    }

    public function untrust(string $deviceId = ''): JSONResponse
    {
        try {
            $this->bridge->untrust($deviceId);
        } catch (\Throwable $e) {
            return new JSONResponse(['ok' => false, 'message' => $e->getMessage()], Http::STATUS_BAD_REQUEST);
        }
        return new JSONResponse(['ok' => true, 'message' => $this->l->t('No longer trusted: %s', [$deviceId])]);
    }
}
