<?php
/** Stand-in for OCP\Lock\LockedException (nextcloud/server lib/public/Lock/LockedException.php). */

declare(strict_types=1);

namespace OCP\Lock;

class LockedException extends \Exception
{
    public function __construct(private string $path, ?\Exception $previous = null, ?string $existingLock = null, ?string $readablePath = null)
    {
        parent::__construct('"' . ($readablePath ?? $path) . '" is locked' . ($existingLock !== null ? ", existing lock on file: $existingLock" : ''), 0, $previous);
    }

    public function getPath(): string
    {
        return $this->path;
    }
}
