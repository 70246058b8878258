<?php
/**
 * Test stand-in for OCP\EventDispatcher\IEventDispatcher.
 * Mirrors nextcloud/server lib/public/EventDispatcher/IEventDispatcher.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 */

declare(strict_types=1);

namespace OCP\EventDispatcher;

interface IEventDispatcher
{
    public function addListener(string $eventName, callable $listener, int $priority = 0): void;

    public function removeListener(string $eventName, callable $listener): void;

    public function addServiceListener(string $eventName, string $className, int $priority = 0): void;

    public function dispatch(string $eventName, Event $event): void;

    public function dispatchTyped(Event $event): void;
}
