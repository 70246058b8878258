<?php
/**
 * occ harp:folder:share FOLDER DEVICE — shares a mapped folder with one more
 * device: the daemon sends it the folder's files and takes its changes to
 * them, at once. A folder shared with every trusted device already is.
 */

declare(strict_types=1);

namespace OCA\Harp\Command;

class FolderShare extends FolderSharing
{
    protected function configure(): void
    {
        $this->configureSharing('harp:folder:share', 'Share a Harp folder with one more device', 'the device\'s ID, as `occ harp:status` prints it on that server');
    }

    protected function change(string $folderId, string $deviceId): void
    {
        $this->bridge->shareFolder($folderId, $deviceId);
    }
}
