<?php
/**
 * The "Harp" section in Nextcloud's admin settings.
 */

declare(strict_types=1);

namespace OCA\Harp\Settings;

use OCP\IL10N;
use OCP\IURLGenerator;
use OCP\Settings\IIconSection;

class Section implements IIconSection
{
    public function __construct(private IL10N $l, private IURLGenerator $url)
    {
    }

    public function getID()
    {
        return 'harpbridge';
    }

    public function getName()
    {
        return $this->l->t('Harp sync');
    }

    public function getPriority()
    {
        return 75;
    }

    public function getIcon()
    {
        return $this->url->imagePath('harpbridge', 'app-dark.svg');
    }
}
