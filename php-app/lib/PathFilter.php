<?php
/**
 * Paths that are never synced, even inside a mapped folder: Nextcloud's
 * trash bin, file versions, app data, chunked uploads and .part files (an
 * upload in progress; the final name gets its own event), and the node's
 * own temporary files.
 *
 * A path is either virtual (/alice/files_trashbin/...: a leading slash, the
 * user first) or internal to a storage (files_trashbin/...: no leading
 * slash), as Nextcloud's events give them.
 */

declare(strict_types=1);

namespace OCA\Harp;

final class PathFilter
{
    private const AREAS = [
        'files_trashbin' => 'in the trash bin',
        'files_versions' => 'a file version',
        'uploads' => 'a chunked upload',
        'cache' => "a user's cache",
    ];

    /**
     * The reason a path relative to a mapped folder is not synced, or null
     * when it is. Nextcloud's storage areas (uploads, cache, ...) are top
     * level folders of a user's storage, not of a mapped folder: a user's
     * own folder named "uploads" or "cache" inside one syncs. Only .part
     * uploads and Harp's own temporary files are skipped here.
     */
    public static function ignoredInFolder(string $rel): ?string
    {
        return self::ignoredName(explode('/', trim($rel, '/')));
    }

    /** The reason a virtual or storage-internal $path is not synced, or null when it is. */
    public static function ignored(string $path): ?string
    {
        $segments = explode('/', trim($path, '/'));
        // The area (files, files_trashbin, ...) is the first segment of an
        // internal path and the second of a virtual one.
        $area = str_starts_with($path, '/') ? ($segments[1] ?? '') : $segments[0];
        if (isset(self::AREAS[$area])) {
            return self::AREAS[$area];
        }
        if (str_starts_with($segments[0], 'appdata_') || str_starts_with($area, 'appdata_')) {
            return 'app data';
        }
        return self::ignoredName($segments);
    }

    /** @param list<string> $segments */
    private static function ignoredName(array $segments): ?string
    {
        foreach ($segments as $segment) {
            if (str_ends_with($segment, '.part')) {
                return 'a .part upload';
            }
            // Harp's one reserved-name rule (src/paths, docs/FORMAT.md): exactly
            // its temporary files; any other .harp* name is a user's file.
            if (preg_match('/^\.harp-tmp-[0-9a-f]{32}(\.part)?$/', $segment) === 1) {
                return "Harp's own temporary file";
            }
        }
        return null;
    }
}
