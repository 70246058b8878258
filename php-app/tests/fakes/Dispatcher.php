<?php
/**
 * IEventDispatcher for the stand-in server: service listeners are built
 * from the container on the first event they receive, as in Nextcloud.
 */

declare(strict_types=1);

namespace OCA\Harp\Tests\Fake;

use OCP\EventDispatcher\Event;
use OCP\EventDispatcher\IEventDispatcher;

final class Dispatcher implements IEventDispatcher
{
    /** @var array<string, list<callable|string>> */
    private array $listeners = [];

    public function __construct(private Container $c)
    {
    }

    public function addListener(string $eventName, callable $listener, int $priority = 0): void
    {
        $this->listeners[$eventName][] = $listener;
    }

    public function removeListener(string $eventName, callable $listener): void
    {
        $this->listeners[$eventName] = array_values(array_filter($this->listeners[$eventName] ?? [], fn ($l) => $l !== $listener));
    }

    public function addServiceListener(string $eventName, string $className, int $priority = 0): void
    {
        $this->listeners[$eventName][] = $className;
    }

    public function dispatch(string $eventName, Event $event): void
    {
        foreach ($this->listeners[$eventName] ?? [] as $l) {
            if (is_string($l)) {
                $this->c->get($l)->handle($event);
            } else {
                $l($event);
            }
        }
    }

    public function dispatchTyped(Event $event): void
    {
        $this->dispatch($event::class, $event);
    }
}
