<?php
/**
 * Test stand-in for OCP\AppFramework\Bootstrap\IRegistrationContext.
 * Mirrors nextcloud/server lib/public/AppFramework/Bootstrap/IRegistrationContext.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 * Checked: signatures (class kind, parent, interfaces; for each method
 * and constant the stand-in declares: parameters, defaults, return type,
 * value) compared by tests/check-stubs.php with OCP/AppFramework/Bootstrap/IRegistrationContext.php in nextcloud-deps/ocp, which is
 * nextcloud/server lib/public per branch: stable28 8f6935d8,
 * stable29 b4e88c70, stable30 48ecbcae, stable31 5ac47a53.
 */

declare(strict_types=1);

namespace OCP\AppFramework\Bootstrap;

/** A subset: the registration methods harpbridge calls. */
interface IRegistrationContext
{
    public function registerService(string $name, callable $factory, bool $shared = true): void;

    public function registerServiceAlias(string $alias, string $target): void;

    public function registerEventListener(string $event, string $listener, int $priority = 0): void;

    /** @since 28.0.0 */
    public function registerSetupCheck(string $setupCheckClass): void;
}
