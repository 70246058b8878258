<?php
/**
 * Test stand-in for OCP\EventDispatcher\IEventListener.
 * Mirrors nextcloud/server lib/public/EventDispatcher/IEventListener.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 */

declare(strict_types=1);

namespace OCP\EventDispatcher;

/** @template T of Event */
interface IEventListener
{
    public function handle(Event $event): void;
}
