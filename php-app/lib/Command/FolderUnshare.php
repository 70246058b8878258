<?php
/**
 * occ harp:folder:unshare FOLDER DEVICE — stops sharing a mapped folder with
 * a device: the daemon sends it nothing more of the folder and refuses its
 * changes to it, at once. A folder shared with every trusted device is from
 * then on shared with the devices trusted now, less that one.
 */

declare(strict_types=1);

namespace OCA\Harp\Command;

class FolderUnshare extends FolderSharing
{
    protected function configure(): void
    {
        $this->configureSharing('harp:folder:unshare', 'Stop sharing a Harp folder with a device', 'the device\'s ID');
    }

    protected function change(string $folderId, string $deviceId): void
    {
        $this->bridge->unshareFolder($folderId, $deviceId);
    }
}
