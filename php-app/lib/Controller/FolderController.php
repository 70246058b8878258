<?php
/**
 * Folder actions from the admin settings (js/admin.js posts here): scan a
 * mapped folder now, or unmap it (its files stay; the daemon stops syncing
 * it within seconds). Admin-only, with the request token, as every
 * controller method without #[NoAdminRequired].
 */

declare(strict_types=1);

namespace OCA\Harp\Controller;

use OCA\Harp\Bridge\Bridge;
use OCA\Harp\FolderMap;
use OCP\AppFramework\Controller;
use OCP\AppFramework\Http;
use OCP\AppFramework\Http\Attribute\PasswordConfirmationRequired;
use OCP\AppFramework\Http\JSONResponse;
use OCP\IL10N;
use OCP\IRequest;

class FolderController extends Controller
{
    public function __construct(IRequest $request, private Bridge $bridge, private FolderMap $folders, private IL10N $l)
    {
        parent::__construct('harpbridge', $request);
    }

    public function scan(string $folderId = ''): JSONResponse
    {
        if ($this->folders->get($folderId) === null) {
            return new JSONResponse(['ok' => false, 'message' => $this->l->t('No Harp folder %s is mapped.', [$folderId])], Http::STATUS_NOT_FOUND);
        }
        try {
            $r = $this->bridge->scan($folderId);
        } catch (\Throwable $e) {
            return new JSONResponse(['ok' => false, 'message' => $e->getMessage()], Http::STATUS_BAD_REQUEST);
        }
        return new JSONResponse(['ok' => true, 'message' => $this->l->t('Scanned %1$s: %2$d files, %3$d new entries.', [$folderId, (int) $r['files'], (int) $r['entries']])]);
    }

    #[PasswordConfirmationRequired]
    public function remove(string $folderId = ''): JSONResponse
    {
        if (!$this->folders->remove($folderId)) {
            return new JSONResponse(['ok' => false, 'message' => $this->l->t('No Harp folder %s is mapped.', [$folderId])], Http::STATUS_NOT_FOUND);
        }
        return new JSONResponse(['ok' => true, 'message' => $this->l->t('Unmapped %s; its files stay in Nextcloud.', [$folderId])]);
    }
}
