<?php
/**
 * Small stand-in services: app config in a JSON file (shared by every
 * process of one stand-in server, like Nextcloud's database), a logger
 * writing JSON lines, a user session, URLs, translations, a request.
 */

declare(strict_types=1);

namespace OCA\Harp\Tests\Fake;

use OCP\IAppConfig;
use OCP\IConfig;
use OCP\IL10N;
use OCP\IRequest;
use OCP\IURLGenerator;
use OCP\IUser;
use OCP\IUserSession;
use Psr\Log\AbstractLogger;

/**
 * App config (IConfig's app values and IAppConfig) in a JSON file shared by
 * every process of one stand-in server, like Nextcloud's database. As
 * OC\AppConfig (nextcloud/server lib/private/AppConfig.php at
 * 42c66efea5ef512d3a3442112f820168e6499265) does, each
 * process loads the values once and serves them from memory until
 * clearCache() (IAppConfig, Nextcloud 29+): a value another process sets
 * is not seen before that.
 */
final class FileConfig implements IConfig, IAppConfig
{
    private ?array $cache = null;

    public function __construct(private string $file, private string $dataDir)
    {
    }

    private function load(): array
    {
        if ($this->cache === null) {
            clearstatcache();
            $this->cache = is_file($this->file) ? (json_decode((string) file_get_contents($this->file), true) ?: []) : [];
        }
        return $this->cache;
    }

    /** Writes one change against the file's current content (not this process's cache). */
    private function change(callable $fn): void
    {
        clearstatcache();
        $all = is_file($this->file) ? (json_decode((string) file_get_contents($this->file), true) ?: []) : [];
        $all = $fn($all);
        file_put_contents($this->file, json_encode($all, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES), LOCK_EX);
        $this->cache = $all;
    }

    public function getAppValue($appName, $key, $default = '')
    {
        return $this->load()[$appName][$key] ?? $default;
    }

    public function setAppValue($appName, $key, $value)
    {
        $this->change(function (array $all) use ($appName, $key, $value) {
            $all[$appName][$key] = (string) $value;
            return $all;
        });
    }

    public function deleteAppValue($appName, $key)
    {
        $this->change(function (array $all) use ($appName, $key) {
            unset($all[$appName][$key]);
            return $all;
        });
    }

    public function getSystemValueString(string $key, string $default = ''): string
    {
        return $key === 'datadirectory' ? $this->dataDir : $default;
    }

    public function getValueString(string $app, string $key, string $default = '', bool $lazy = false): string
    {
        return (string) $this->getAppValue($app, $key, $default);
    }

    public function setValueString(string $app, string $key, string $value, bool $lazy = false, bool $sensitive = false): bool
    {
        $this->setAppValue($app, $key, $value);
        return true;
    }

    public function clearCache(bool $reload = false): void
    {
        $this->cache = null;
    }
}

/** Nextcloud logs through a PSR-3 logger; this one appends JSON lines to a file the tests read. */
final class FileLogger extends AbstractLogger
{
    public function __construct(private string $file)
    {
    }

    public function log($level, $message, array $context = []): void
    {
        $e = $context['exception'] ?? null;
        file_put_contents($this->file, json_encode(['level' => $level, 'message' => (string) $message, 'app' => $context['app'] ?? '', 'exception' => $e instanceof \Throwable ? $e::class : null]) . "\n", FILE_APPEND | LOCK_EX);
    }
}

final class User implements IUser
{
    public function __construct(private string $uid)
    {
    }

    public function getUID()
    {
        return $this->uid;
    }
}

final class UserSession implements IUserSession
{
    public ?IUser $user = null;

    public function getUser()
    {
        return $this->user;
    }
}

final class UrlGenerator implements IURLGenerator
{
    public function linkToRoute(string $routeName, array $arguments = []): string
    {
        [$app, $controller, $method] = explode('.', $routeName);
        return "/index.php/apps/$app/$controller/$method";
    }

    public function imagePath(string $appName, string $file): string
    {
        return "/apps/$appName/img/$file";
    }
}

/**
 * IL10N (OC\L10N\L10N::t: the translation of $text, then vsprintf with
 * $parameters). With HARPBRIDGE_L10N=pseudo every translated string comes
 * back marked ⟦…⟧, so a test can find text that never went through t().
 */
final class L10N implements IL10N
{
    public function t(string $text, $parameters = []): string
    {
        $out = vsprintf($text, (array) $parameters);
        return getenv('HARPBRIDGE_L10N') === 'pseudo' ? "⟦{$out}⟧" : $out;
    }
}

final class Request implements IRequest
{
    public function __construct(private array $params = [])
    {
    }

    public function getParam(string $key, $default = null)
    {
        return $this->params[$key] ?? $default;
    }
}

/**
 * OC\Encryption\Manager (nextcloud/server lib/private/Encryption/Manager.php
 * at 38bfba89751ed4d020d5e01790d8a189f172ebb7):
 * isEnabled() is the app value core/encryption_enabled === 'yes', which
 * `occ encryption:enable` sets, read through the app config (cached per
 * process like every app value).
 */
final class EncryptionManager implements \OCP\Encryption\IManager
{
    public function __construct(private IConfig $config)
    {
    }

    public function isEnabled()
    {
        return $this->config->getAppValue('core', 'encryption_enabled', 'no') === 'yes';
    }
}
