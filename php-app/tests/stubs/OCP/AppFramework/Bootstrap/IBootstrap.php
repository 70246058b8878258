<?php
/**
 * Test stand-in for OCP\AppFramework\Bootstrap\IBootstrap.
 * Mirrors nextcloud/server lib/public/AppFramework/Bootstrap/IBootstrap.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 */

declare(strict_types=1);

namespace OCP\AppFramework\Bootstrap;

interface IBootstrap
{
    public function register(IRegistrationContext $context): void;

    public function boot(IBootContext $context): void;
}
