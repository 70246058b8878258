<?php
/**
 * Picks the bridge: HarpBridge when the harp extension is loaded, NullBridge
 * (and one logged warning per process) when it is not.
 */

declare(strict_types=1);

namespace OCA\Harp\Bridge;

use OCA\Harp\Config;
use OCA\Harp\ExtensionCheck;
use Psr\Log\LoggerInterface;

final class BridgeFactory
{
    public function __construct(private Config $config, private LoggerInterface $logger)
    {
    }

    public function create(): Bridge
    {
        if (ExtensionCheck::loaded()) {
            return new HarpBridge($this->config->stateDir());
        }
        return new NullBridge($this->logger);
    }
}
