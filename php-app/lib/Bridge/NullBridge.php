<?php
/**
 * Stands in for the extension when harp.so is not loaded (removed after the
 * app was enabled, or a PHP upgrade without it). File events become no-ops
 * with one warning per process, so uploads keep working; admin actions fail
 * with the message that says how to install the extension.
 */

declare(strict_types=1);

namespace OCA\Harp\Bridge;

use OCA\Harp\ExtensionCheck;
use Psr\Log\LoggerInterface;

final class NullBridge implements Bridge
{
    private bool $warned = false;

    public function __construct(private LoggerInterface $logger)
    {
    }

    public function available(): bool
    {
        return false;
    }

    public function notify(string $folderId, string $path, string $kind = 'write', ?string $from = null): void
    {
        if (!$this->warned) {
            $this->warned = true;
            $this->logger->warning('Harp: a change in folder "' . $folderId . '" was not synced. ' . ExtensionCheck::installHint(), ['app' => 'harpbridge']);
        }
    }

    public function status(): array
    {
        return ['running' => false, 'extension' => false, 'error' => ExtensionCheck::installHint()];
    }

    public function peers(): array
    {
        return [];
    }

    public function trust(string $deviceId, array $addresses = []): void
    {
        throw new BridgeUnavailableException(ExtensionCheck::installHint());
    }

    public function untrust(string $deviceId): void
    {
        throw new BridgeUnavailableException(ExtensionCheck::installHint());
    }

    public function addFolder(string $folderId, string $localPath, ?array $devices = null): void
    {
        throw new BridgeUnavailableException(ExtensionCheck::installHint());
    }

    public function shareFolder(string $folderId, string $deviceId): void
    {
        throw new BridgeUnavailableException(ExtensionCheck::installHint());
    }

    public function unshareFolder(string $folderId, string $deviceId): void
    {
        throw new BridgeUnavailableException(ExtensionCheck::installHint());
    }

    public function folders(): array
    {
        return [];
    }

    public function scan(string $folderId): array
    {
        throw new BridgeUnavailableException(ExtensionCheck::installHint());
    }

    public function verify(string $folderId): array
    {
        throw new BridgeUnavailableException(ExtensionCheck::installHint());
    }
}
