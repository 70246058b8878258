<?php
/**
 * What the app asks of Harp. HarpBridge talks to the extension (a thin
 * Harp\Client on the state directory); NullBridge stands in when the
 * extension is missing, so Nextcloud keeps working without it.
 */

declare(strict_types=1);

namespace OCA\Harp\Bridge;

interface Bridge
{
    /** True when the harp extension is loaded. */
    public function available(): bool;

    /** Puts a change in the durable outbox (no network, no hashing). kind: write, delete, rename ($from = old path). */
    public function notify(string $folderId, string $path, string $kind = 'write', ?string $from = null): void;

    /** The owner's status (Harp\Client::status): `running` false when no daemon runs. */
    public function status(): array;

    public function peers(): array;

    public function trust(string $deviceId, array $addresses = []): void;

    public function untrust(string $deviceId): void;

    /** Syncs $localPath as $folderId, shared with $devices (device IDs; null: every trusted device). */
    public function addFolder(string $folderId, string $localPath, ?array $devices = null): void;

    /** Shares $folderId with $deviceId too (Harp\Client::shareFolder). */
    public function shareFolder(string $folderId, string $deviceId): void;

    /** Stops sharing $folderId with $deviceId (Harp\Client::unshareFolder). */
    public function unshareFolder(string $folderId, string $deviceId): void;

    /** The owner's folders (Harp\Client::folders): id, path, devices, all_devices, files, conflicts, … */
    public function folders(): array;

    public function scan(string $folderId): array;

    public function verify(string $folderId): array;
}
