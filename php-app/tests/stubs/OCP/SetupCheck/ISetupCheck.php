<?php
/** Stand-in for OCP\SetupCheck\ISetupCheck (nextcloud/server lib/public/SetupCheck/ISetupCheck.php, since 28). */

declare(strict_types=1);

namespace OCP\SetupCheck;

interface ISetupCheck
{
    public function getCategory(): string;

    public function getName(): string;

    public function run(): SetupResult;
}
