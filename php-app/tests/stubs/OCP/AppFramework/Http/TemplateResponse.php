<?php
/**
 * Test stand-in for OCP\AppFramework\Http\TemplateResponse.
 * Mirrors nextcloud/server lib/public/AppFramework/Http/TemplateResponse.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 * Checked: signatures (class kind, parent, interfaces; for each method
 * and constant the stand-in declares: parameters, defaults, return type,
 * value) compared by tests/check-stubs.php with OCP/AppFramework/Http/TemplateResponse.php in nextcloud-deps/ocp, which is
 * nextcloud/server lib/public per branch: stable28 8f6935d8,
 * stable29 b4e88c70, stable30 48ecbcae, stable31 5ac47a53.
 */

declare(strict_types=1);

namespace OCP\AppFramework\Http;

use OCP\AppFramework\Http;

/** render() includes apps/<app>/templates/<name>.php with $_ = the parameters, as Nextcloud's template engine does. */
class TemplateResponse extends Response
{
    public const RENDER_AS_GUEST = 'guest';
    public const RENDER_AS_BLANK = '';
    public const RENDER_AS_BASE = 'base';
    public const RENDER_AS_USER = 'user';
    public const RENDER_AS_ERROR = 'error';
    public const RENDER_AS_PUBLIC = 'public';

    protected $templateName;
    protected $params;
    protected $renderAs;
    protected $appName;

    public function __construct(string $appName, string $templateName, array $params = [], string $renderAs = self::RENDER_AS_USER, int $status = Http::STATUS_OK, array $headers = [])
    {
        parent::__construct($status, $headers);
        $this->templateName = $templateName;
        $this->appName = $appName;
        $this->params = $params;
        $this->renderAs = $renderAs;
    }

    public function getParams()
    {
        return $this->params;
    }

    public function getTemplateName()
    {
        return $this->templateName;
    }

    public function render()
    {
        $_ = $this->params;
        // As OC_Template: templates get $l, the app's IL10N.
        $l = \OC::$server->get(\OCP\IL10N::class);
        ob_start();
        include \OCA\Harp\Tests\Fake\Server::appRoot() . '/templates/' . $this->templateName . '.php';
        return (string) ob_get_clean();
    }
}
