<?php
/**
 * Test stand-in for OCP\EventDispatcher\Event.
 * Mirrors nextcloud/server lib/public/EventDispatcher/Event.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 */

declare(strict_types=1);

namespace OCP\EventDispatcher;

class Event
{
    private bool $stopped = false;

    public function __construct()
    {
    }

    public function stopPropagation(): void
    {
        $this->stopped = true;
    }

    public function isPropagationStopped(): bool
    {
        return $this->stopped;
    }
}
