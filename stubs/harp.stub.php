<?php

// Stubs for harp

namespace Harp {
    /**
     * The hash chain's link function.
     */
    class Chain {
        public function __construct() {}

        /**
         * SHA3-256 of `$metaBytes` followed by `$prevHash`: the 32 raw bytes
         * that link an entry to the one before it. `$prevHash` must be 32 raw
         * bytes (an author's first entry uses 32 zero bytes); anything else
         * throws `ConfigException`.
         *
         * @param string $prevHash
         * @param string $metaBytes
         * @return string
         */
        public static function link(string $prevHash, string $metaBytes): string {}
    }

    /**
     * Talks to the node that owns a state directory, from any PHP process:
     * FPM workers, cron, CLI. Starts no thread and keeps no connection, so it
     * is safe in forked children and costs nothing between calls.
     */
    class Client {
        /**
         * A client for `$stateDir` (default: the `harp.state_dir` INI setting).
         * The directory is created if it does not exist yet, so notifies made
         * before the first owner ever ran are kept.
         *
         * @param string|null $stateDir
         */
        public function __construct(?string $stateDir = null) {}

        /**
         * Asks the owner to sync `$path` as folder `$folderId` (see
         * `Node::addFolder`, and its `devices` and `max_file_size` options). Throws
         * `NotRunningException` when no owner runs.
         *
         * @param string $folderId
         * @param string $path
         * @param array|null $options
         * @return void
         */
        public function addFolder(string $folderId, string $path, ?array $options = null): void {}

        /**
         * The owner's folders (see `Node::folders`).
         *
         * @return array
         */
        public function folders(): array {}

        /**
         * The versions of a path, newest first (see `Node::history`).
         *
         * @param string $folderId
         * @param string $path
         * @return array
         */
        public function history(string $folderId, string $path): array {}

        /**
         * Tells the owner that `$path` in `$folderId` changed. `$kind` is
         * `write`, `delete` or `rename`; a rename passes the old path as
         * `$from`. Returns once the change is in the durable outbox: no network
         * I/O, no hashing. Throws `InvalidPathException` for a path Harp will
         * not sync and `ConfigException` for a bad folder id or kind.
         *
         * @param string $folderId
         * @param string $path
         * @param string $kind
         * @param string|null $from
         * @return void
         */
        public function notify(string $folderId, string $path, string $kind = 'write', ?string $from = null): void {}

        /**
         * The owner's peers (see `Node::peers`).
         *
         * @return array
         */
        public function peers(): array {}

        /**
         * Asks the owner to scan a folder (see `Node::scan`).
         *
         * @param string $folderId
         * @return array
         */
        public function scan(string $folderId): array {}

        /**
         * Asks the owner to share a folder with one more device (see
         * `Node::shareFolder`).
         *
         * @param string $folderId
         * @param string $deviceId
         * @return void
         */
        public function shareFolder(string $folderId, string $deviceId): void {}

        /**
         * The owner's status (see `Node::status`) with `role` = `client`. When
         * no owner runs: `running` false, the owner `pid` if one holds the lock
         * without running, and `outbox`, the notifies waiting for an owner.
         *
         * @return array
         */
        public function status(): array {}

        /**
         * Asks the owner to pin a device (see `Node::trust`).
         *
         * @param string $deviceId
         * @param array|null $addresses
         * @return void
         */
        public function trust(string $deviceId, ?array $addresses = null): void {}

        /**
         * Asks the owner to stop sharing a folder with a device (see
         * `Node::unshareFolder`).
         *
         * @param string $folderId
         * @param string $deviceId
         * @return void
         */
        public function unshareFolder(string $folderId, string $deviceId): void {}

        /**
         * Asks the owner to unpin a device (see `Node::untrust`).
         *
         * @param string $deviceId
         * @return void
         */
        public function untrust(string $deviceId): void {}

        /**
         * Asks the owner to check a folder's entries (see `Node::verify`).
         *
         * @param string $folderId
         * @return array
         */
        public function verify(string $folderId): array {}
    }

    /**
     * An event from the node. Read-only properties: `kind` (`local_change`;
     * with sync also `file_updated`, `file_deleted`, `conflict`, `peer_found`,
     * `peer_lost`; with the `place_gate` option `place` and `placed`),
     * `folderId`, `path`, `deviceId`, `hash` (hex), `seq` (for
     * `local_change`, the change's number in the store; for `place` and
     * `placed`, the request's token for `Node::placeAnswer`) and `time`
     * (milliseconds since the Unix epoch). A property the event does not carry
     * is `''` (strings) or `0` (integers).
     */
    class Event {
        /**
         * The device concerned (text form).
         *
         * @var string
         */
        public readonly string $deviceId;

        /**
         * The folder concerned.
         *
         * @var string
         */
        public readonly string $folderId;

        /**
         * A content or entry hash in hex.
         *
         * @var string
         */
        public readonly string $hash;

        /**
         * What happened.
         *
         * @var string
         */
        public readonly string $kind;

        /**
         * The path concerned.
         *
         * @var string
         */
        public readonly string $path;

        /**
         * The store's sequence number of a local change.
         *
         * @var int
         */
        public readonly int $seq;

        /**
         * When it happened, in milliseconds since the Unix epoch.
         *
         * @var int
         */
        public readonly int $time;

        public function __construct() {}
    }

    /**
     * The node: owns its state directory (one process at a time), its device
     * key and its store, and runs the networking runtime on a background
     * thread between `start()` and `stop()`.
     */
    class Node {
        /**
         * Opens `$stateDir` (default: the `harp.state_dir` INI setting) as its
         * owner: creates the directory and the device key on first use and
         * takes the owner lock. Options: `listen` ('0.0.0.0:4433'), `mdns`
         * (bool), `name` (this device's name), `place_gate` (bool, default
         * false: a file from a peer is renamed into place only after
         * `placeAnswer()` allowed it; see `placeAnswer`). Throws
         * `AlreadyRunningException`, naming the owner's pid, when another
         * process owns the directory. Starts no thread: see `start()`.
         *
         * @param string|null $stateDir
         * @param array|null $options
         */
        public function __construct(?string $stateDir = null, ?array $options = null) {}

        /**
         * Syncs the directory `$path` (created if missing) as folder
         * `$folderId` (1-64 characters of A-Z a-z 0-9 . _ -). Mapping an id
         * again moves it. Options: `devices`, the device IDs the folder is
         * shared with: its entries, manifests and chunks go to those devices
         * only and are taken from them only (without it, a new folder goes to
         * every trusted device and one mapped again keeps its list);
         * `all_devices` => true, share it with every trusted device again;
         * `max_file_size`, the largest file in bytes a peer may make this node
         * write there (0: no limit; a larger one is not fetched, and
         * `status()['not_applied']` says why).
         *
         * @param string $folderId
         * @param string $path
         * @param array|null $options
         * @return void
         */
        public function addFolder(string $folderId, string $path, ?array $options = null): void {}

        /**
         * The local changes this node has taken from the outbox, oldest first:
         * arrays with `seq`, `folder`, `path`, `kind`, `from`, `time_ms` (when
         * notified), `pid` (who notified) and `recorded_ms`. `$after` is the
         * last `seq` already seen; at most `$limit` are returned.
         *
         * @param int $after
         * @param int $limit
         * @return array
         */
        public function changes(int $after = 0, int $limit = 1000): array {}

        /**
         * This device's ID: 56 base32 characters in 8 dash-separated groups,
         * SHA3-256 of the public key with 4 check characters. Compare it aloud
         * before trusting a device.
         *
         * @return string
         */
        public function deviceId(): string {}

        /**
         * The folders: arrays with `id`, `path`, `devices` (the device IDs it
         * is shared with), `all_devices` (true: shared with every trusted
         * device), `files` (in the synced view), `conflicts` (conflict copies
         * among them), `not_synced` (symlinks, FIFOs, sockets and device files
         * the last scan found: never followed or opened) and
         * `not_synced_paths` (the first 100: `path`, `reason`).
         *
         * @return array
         */
        public function folders(): array {}

        /**
         * The versions of `$path`, newest first: arrays with `entry` (hash,
         * hex), `author`, `seq`, `kind` (write, delete, rename, renamed_away),
         * `path`, `from`, `size`, `mtime_ns`, `time_ms` and `content` (hex).
         *
         * @param string $folderId
         * @param string $path
         * @return array
         */
        public function history(string $folderId, string $path): array {}

        /**
         * Every device this node knows: `device_id`, `name`, `addresses`,
         * `trusted`, `connected`, `remote`, `lan`, `rtt_ms`, `bytes_in`,
         * `bytes_out`, `last_error`.
         *
         * @return array
         */
        public function peers(): array {}

        /**
         * With the `place_gate` option: the answer to a `place` event (its
         * token is the event's `seq`). `true`: rename the file into place now
         * (the application holds its own lock on the path until the `placed`
         * event with the same token); `false`: not now, the node asks again in
         * 2 s. A request not answered within 30 s asks again with a new token;
         * answering an old token throws.
         *
         * @param int $token
         * @param bool $go
         * @return void
         */
        public function placeAnswer(int $token, bool $go): void {}

        /**
         * The next event, waiting up to `$timeoutMs` milliseconds; null when
         * none came.
         *
         * @param int $timeoutMs
         * @return \Harp\Event|null
         */
        public function poll(int $timeoutMs): ?\Harp\Event {}

        /**
         * Walks the folder and records new, changed and deleted files as
         * entries. Unchanged files are skipped by size and mtime. Returns
         * `files`, `new`, `changed`, `deleted`, `unchanged`, `bytes_hashed`,
         * `entries`, `skipped` (list of [path, reason]) and `ms`.
         *
         * @param string $folderId
         * @return array
         */
        public function scan(string $folderId): array {}

        /**
         * Shares folder `$folderId` with device `$deviceId` too (a folder
         * shared with every trusted device already includes it).
         *
         * @param string $folderId
         * @param string $deviceId
         * @return void
         */
        public function shareFolder(string $folderId, string $deviceId): void {}

        /**
         * Starts the runtime on a background thread: the control socket for
         * clients and the intake of notifies. Returns once it is listening.
         * Starting a running node does nothing.
         *
         * @return void
         */
        public function start(): void {}

        /**
         * The node's state: `device_id`, `name`, `state_dir`, `role`
         * ('owner'|'client'), `running`, `pid`, `listen`, `mdns`, `folders`,
         * `peers`, `transfers`, `outbox` (notifies not yet taken), `changes`
         * (changes recorded), `entries` (chain entries stored), `uptime_s`,
         * `last_error`. In a forked child it
         * asks the owner over the socket, as a `Client` would.
         *
         * @return array
         */
        public function status(): array {}

        /**
         * Stops the runtime: takes what waits in the outbox, closes the socket
         * and joins the thread. Stopping a stopped node does nothing.
         *
         * @return void
         */
        public function stop(): void {}

        /**
         * Pins the device `$deviceId` (its text form, as `deviceId()` prints
         * it on that device): entries and connections from it are accepted.
         * `$addresses` are static `IP:port` (or `host:port`) addresses to dial,
         * for peers beyond the LAN. Trusting again replaces the addresses.
         *
         * @param string $deviceId
         * @param array|null $addresses
         * @return void
         */
        public function trust(string $deviceId, ?array $addresses = null): void {}

        /**
         * Stops sharing folder `$folderId` with device `$deviceId`: it gets
         * nothing more of the folder, and what it sends for it is refused.
         *
         * @param string $folderId
         * @param string $deviceId
         * @return void
         */
        public function unshareFolder(string $folderId, string $deviceId): void {}

        /**
         * Removes a device from the trust list and drops its connection.
         *
         * @param string $deviceId
         * @return void
         */
        public function untrust(string $deviceId): void {}

        /**
         * Checks every entry of the folder: each link, each signature, each
         * author. Returns `ok`, `checked` (the number of entries) and
         * `problems`: for each damaged entry its `entry` id, `position`,
         * `author`, `seq`, `path`, `reason` (broken link, bad signature,
         * unknown author, malformed entry) and `detail`.
         *
         * @param string $folderId
         * @return array
         */
        public function verify(string $folderId): array {}
    }
}

namespace Harp\Exception {
    /**
     * Another process already owns this state directory; the message names its pid.
     */
    class AlreadyRunningException extends \Harp\Exception\HarpException {
        public function __construct() {}
    }

    /**
     * A bad option, INI setting, argument or state directory.
     */
    class ConfigException extends \Harp\Exception\HarpException {
        public function __construct() {}
    }

    /**
     * Base class of every exception Harp throws.
     */
    class HarpException extends \Exception {
        public function __construct() {}
    }

    /**
     * A path Harp refuses to sync; the message names the rule it broke.
     */
    class InvalidPathException extends \Harp\Exception\HarpException {
        public function __construct() {}
    }

    /**
     * No owner process runs for this state directory.
     */
    class NotRunningException extends \Harp\Exception\HarpException {
        public function __construct() {}
    }

    /**
     * A malformed message from a peer or from the owner.
     */
    class ProtocolException extends \Harp\Exception\HarpException {
        public function __construct() {}
    }

    /**
     * The disk or the store failed (full disk, damaged file, permissions).
     */
    class StorageException extends \Harp\Exception\HarpException {
        public function __construct() {}
    }

    /**
     * A device that is not on the trust list.
     */
    class UntrustedPeerException extends \Harp\Exception\HarpException {
        public function __construct() {}
    }
}
