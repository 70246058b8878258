<?php
/**
 * Test stand-in for OCP\IL10N.
 * Mirrors nextcloud/server lib/public/IL10N.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 */

declare(strict_types=1);

namespace OCP;

interface IL10N
{
    public function t(string $text, $parameters = []): string;
}
