<?php
/**
 * The bridge to the harp extension: every call goes through one
 * Harp\Client on the configured state directory. A client starts no thread
 * and keeps no connection, so it is safe in FPM workers.
 */

declare(strict_types=1);

namespace OCA\Harp\Bridge;

use Harp\Client;

final class HarpBridge implements Bridge
{
    private ?Client $client = null;

    public function __construct(private string $stateDir)
    {
    }

    private function client(): Client
    {
        return $this->client ??= new Client($this->stateDir);
    }

    public function available(): bool
    {
        return true;
    }

    public function notify(string $folderId, string $path, string $kind = 'write', ?string $from = null): void
    {
        $this->client()->notify($folderId, $path, $kind, $from);
    }

    public function status(): array
    {
        return $this->client()->status();
    }

    public function peers(): array
    {
        return $this->client()->peers();
    }

    public function trust(string $deviceId, array $addresses = []): void
    {
        $this->client()->trust($deviceId, $addresses);
    }

    public function untrust(string $deviceId): void
    {
        $this->client()->untrust($deviceId);
    }

    public function addFolder(string $folderId, string $localPath, ?array $devices = null): void
    {
        $this->client()->addFolder($folderId, $localPath, $devices === null ? [] : ['devices' => array_values($devices)]);
    }

    public function shareFolder(string $folderId, string $deviceId): void
    {
        $this->client()->shareFolder($folderId, $deviceId);
    }

    public function unshareFolder(string $folderId, string $deviceId): void
    {
        $this->client()->unshareFolder($folderId, $deviceId);
    }

    public function folders(): array
    {
        return $this->client()->folders();
    }

    public function scan(string $folderId): array
    {
        return $this->client()->scan($folderId);
    }

    public function verify(string $folderId): array
    {
        return $this->client()->verify($folderId);
    }
}
