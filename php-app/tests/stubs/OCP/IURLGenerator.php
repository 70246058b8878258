<?php
/**
 * Test stand-in for OCP\IURLGenerator.
 * Mirrors nextcloud/server lib/public/IURLGenerator.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 */

declare(strict_types=1);

namespace OCP;

interface IURLGenerator
{
    public function linkToRoute(string $routeName, array $arguments = []): string;

    public function imagePath(string $appName, string $file): string;
}
