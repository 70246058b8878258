<?php
/**
 * Test stand-in for OCP\Settings\ISettings.
 * Mirrors nextcloud/server lib/public/Settings/ISettings.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 */

declare(strict_types=1);

namespace OCP\Settings;

use OCP\AppFramework\Http\TemplateResponse;

interface ISettings
{
    /** @return TemplateResponse */
    public function getForm();

    /** @return string|null */
    public function getSection();

    /** @return int */
    public function getPriority();
}
