<?php
/**
 * Test stand-in for OCP\Files\Cache\ICacheEntry.
 * Mirrors nextcloud/server lib/public/Files/Cache/ICacheEntry.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 */

declare(strict_types=1);

namespace OCP\Files\Cache;

interface ICacheEntry extends \ArrayAccess
{
    /** @return int */
    public function getId();

    /** @return string */
    public function getPath();

    /** @return int|float */
    public function getSize();

    /** @return int */
    public function getMTime();
}
