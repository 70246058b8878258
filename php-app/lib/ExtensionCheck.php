<?php
/**
 * Is the harp extension there, and new enough? Used by the enable-time
 * migration, the bridge factory, harp:setup and the settings page, so they
 * all say the same thing about how to install it.
 */

declare(strict_types=1);

namespace OCA\Harp;

final class ExtensionCheck
{
    /** The oldest harp.so whose API this app uses (Client::notify with $from, Client::trust/peers/scan/verify). */
    public const MIN_VERSION = '0.1.0';

    public static function loaded(): bool
    {
        return extension_loaded('harp') && class_exists(\Harp\Client::class, false);
    }

    public static function version(): ?string
    {
        $v = self::loaded() ? phpversion('harp') : false;
        return is_string($v) ? $v : null;
    }

    public static function versionOk(): bool
    {
        $v = self::version();
        return $v !== null && version_compare($v, self::MIN_VERSION, '>=');
    }

    /** The one message, shown wherever the extension is missing or too old. */
    public static function installHint(): string
    {
        $found = self::version();
        $what = $found === null
            ? 'The harp PHP extension (harp.so) is not loaded in this PHP (' . PHP_VERSION . ', ' . PHP_SAPI . ').'
            : "The harp PHP extension is version $found; harpbridge needs " . self::MIN_VERSION . ' or newer.';
        return $what . ' Install it: in a clone of the Harp repository run `sudo scripts/install`'
            . ' (builds harp.so, copies it to `php-config --extension-dir` and enables it for the CLI and PHP-FPM with phpenmod),'
            . ' restart PHP-FPM or Apache, check with `php --ri harp`, then run `occ app:enable harpbridge` again.';
    }
}
