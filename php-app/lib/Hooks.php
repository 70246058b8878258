<?php
/**
 * The entry point for the legacy OC_Filesystem post_write hook, for servers
 * wired that way (`occ config:app:set harpbridge legacy_hook --value=yes`
 * connects it at boot):
 *
 *   \OCP\Util::connectHook('OC_Filesystem', 'post_write', '\OCA\Harp\Hooks', 'onFileChange');
 *
 * $params['path'] is relative to the current user's files. It shares the
 * typed listeners' code path (ChangeNotifier) and never throws.
 */

declare(strict_types=1);

namespace OCA\Harp;

use OCP\IUserSession;
use OCP\Server;
use Psr\Log\LoggerInterface;

class Hooks
{
    public static function onFileChange(array $params): void
    {
        try {
            $path = $params['path'] ?? null;
            $user = Server::get(IUserSession::class)->getUser();
            if (!is_string($path) || $path === '' || $user === null) {
                return; // no user session (cron, CLI): the cache events cover those writes
            }
            Server::get(ChangeNotifier::class)->legacyWrite($user->getUID(), $path);
        } catch (\Throwable $e) {
            try {
                Server::get(LoggerInterface::class)->error('Harp: post_write hook failed: ' . $e->getMessage(), ['app' => 'harpbridge', 'exception' => $e]);
            } catch (\Throwable) {
                // nothing left to report to; never break the request
            }
        }
    }
}
