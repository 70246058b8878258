<?php
/**
 * Stand-in for OCP\Migration\IRepairStep (nextcloud/server
 * lib/public/Migration/IRepairStep.php). OC\Repair::run (lib/private/
 * Repair.php at 0005a2442a650c6e30753335033d6dee7a6c29ea) catches what a
 * step throws and logs it: a step cannot stop an install, it can warn.
 */

declare(strict_types=1);

namespace OCP\Migration;

interface IRepairStep
{
    public function getName();

    public function run(IOutput $output);
}
