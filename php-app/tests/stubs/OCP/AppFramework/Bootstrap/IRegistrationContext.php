<?php
/**
 * Test stand-in for OCP\AppFramework\Bootstrap\IRegistrationContext.
 * Mirrors nextcloud/server lib/public/AppFramework/Bootstrap/IRegistrationContext.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 */

declare(strict_types=1);

namespace OCP\AppFramework\Bootstrap;

/** A subset: the registration methods harpbridge calls. */
interface IRegistrationContext
{
    public function registerService(string $name, callable $factory, bool $shared = true): void;

    public function registerServiceAlias(string $alias, string $target): void;

    public function registerEventListener(string $event, string $listener, int $priority = 0): void;
}
