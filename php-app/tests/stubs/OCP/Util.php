<?php
/**
 * Test stand-in for OCP\Util.
 * Mirrors nextcloud/server lib/public/Util.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 * Checked: signatures (class kind, parent, interfaces; for each method
 * and constant the stand-in declares: parameters, defaults, return type,
 * value) compared by tests/check-stubs.php with OCP/Util.php in nextcloud-deps/ocp, which is
 * nextcloud/server lib/public per branch: stable28 8f6935d8,
 * stable29 b4e88c70, stable30 48ecbcae, stable31 5ac47a53.
 */

declare(strict_types=1);

namespace OCP;

class Util
{
    /** @var array<string, list<array{0: string, 1: string}>> what connectHook registered, by "class::signal" */
    private static array $hooks = [];

    /** @var list<string> "app/script" of every addScript() call */
    public static array $scripts = [];

    /** Adds a script to the page being rendered (js/<file>.js of the app). */
    public static function addScript(string $application, ?string $file = null, string $afterAppId = 'core', bool $prepend = false): void
    {
        self::$scripts[] = "$application/$file";
    }

    /** Connects a static method to a legacy hook (OC_Hook::connect in Nextcloud). */
    public static function connectHook($signalClass, $signalName, $slotClass, $slotName)
    {
        self::$hooks["$signalClass::$signalName"][] = [$slotClass, $slotName];
        return true;
    }

    /** Emits a legacy hook (OC_Hook::emit in Nextcloud; Util::emitHook is its public form). */
    public static function emitHook($signalclass, $signalname, $params = [])
    {
        foreach (self::$hooks["$signalclass::$signalname"] ?? [] as [$class, $method]) {
            call_user_func([ltrim($class, '\\'), $method], $params);
        }
        return true;
    }
}
