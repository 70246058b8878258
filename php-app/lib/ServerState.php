<?php
/**
 * What config/config.php says now. Nextcloud reads it once per process
 * (OC\Config), so a long-running `occ harp:daemon` would never see
 * `occ maintenance:mode --on` or an upgrade; this reads the files again,
 * as OC\Config does at start: config.php, then every *.config.php in the
 * same directory, later files overriding earlier ones.
 */

declare(strict_types=1);

namespace OCA\Harp;

final class ServerState
{
    /** @return array<string, mixed> the merged $CONFIG, [] when it cannot be read */
    public static function systemConfig(): array
    {
        $dir = \OC::$configDir ?? null;
        if (!is_string($dir) || $dir === '') {
            return [];
        }
        $files = [rtrim($dir, '/') . '/config.php', ...(glob(rtrim($dir, '/') . '/*.config.php') ?: [])];
        $merged = [];
        foreach ($files as $file) {
            if (!is_file($file)) {
                continue;
            }
            if (function_exists('opcache_invalidate')) {
                @opcache_invalidate($file, true);
            }
            $config = (static function (string $file): array {
                $CONFIG = [];
                include $file;
                return is_array($CONFIG) ? $CONFIG : [];
            })($file);
            $merged = array_merge($merged, $config);
        }
        return $merged;
    }

    /** Maintenance mode is on (occ maintenance:mode --on, and during occ upgrade). */
    public static function maintenance(array $config): bool
    {
        return (bool) ($config['maintenance'] ?? false);
    }
}
