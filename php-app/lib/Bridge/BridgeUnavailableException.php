<?php
/**
 * Thrown by NullBridge for anything but a file event: the harp extension is
 * not loaded. The message says how to install it.
 */

declare(strict_types=1);

namespace OCA\Harp\Bridge;

final class BridgeUnavailableException extends \RuntimeException
{
}
