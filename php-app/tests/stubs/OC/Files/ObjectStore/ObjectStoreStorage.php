<?php
/**
 * Stand-in for OC\Files\ObjectStore\ObjectStoreStorage (nextcloud/server
 * lib/private/Files/ObjectStore/ObjectStoreStorage.php): object storage as
 * primary storage (S3, Swift). Its files are objects named by file id, not
 * files in a folder on disk: isLocal() is false and there is no local
 * path. Here a home storage of that kind, "object::user:<uid>".
 */

declare(strict_types=1);

namespace OC\Files\ObjectStore;

use OCA\Harp\Tests\Fake\Local;
use OCA\Harp\Tests\Fake\Site;

class ObjectStoreStorage extends Local
{
    public function __construct(private string $user, string $dir, Site $site)
    {
        parent::__construct($dir, $site);
    }

    public function getId()
    {
        return 'object::user:' . $this->user;
    }

    public function isLocal()
    {
        return false;
    }
}
