<?php
/**
 * Test stand-in for OCP\Settings\IIconSection.
 * Mirrors nextcloud/server lib/public/Settings/IIconSection.php (Nextcloud 28-31): same namespace,
 * names, parameter and return types; only what harpbridge uses.
 */

declare(strict_types=1);

namespace OCP\Settings;

interface IIconSection
{
    /** @return string */
    public function getID();

    /** @return string */
    public function getName();

    /** @return int */
    public function getPriority();

    /** @return string */
    public function getIcon();
}
