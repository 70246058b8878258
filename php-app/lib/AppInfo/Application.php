<?php
/**
 * The app's bootstrap. register() only declares what Nextcloud builds later
 * (listeners, the bridge factory); nothing here touches the extension, the
 * disk or the network, so it costs nothing on requests that never write a
 * file. boot() connects the legacy post_write hook when an admin asked for it.
 */

declare(strict_types=1);

namespace OCA\Harp\AppInfo;

use OCA\Harp\Bridge\Bridge;
use OCA\Harp\Bridge\BridgeFactory;
use OCA\Harp\Config;
use OCA\Harp\Listener\FileEventListener;
use OCA\Harp\SetupChecks\HarpCheck;
use OCP\AppFramework\App;
use OCP\AppFramework\Bootstrap\IBootContext;
use OCP\AppFramework\Bootstrap\IBootstrap;
use OCP\AppFramework\Bootstrap\IRegistrationContext;
use OCP\Files\Cache\CacheEntryInsertedEvent;
use OCP\Files\Cache\CacheEntryRemovedEvent;
use OCP\Files\Cache\CacheEntryUpdatedEvent;
use OCP\Files\Events\Node\BeforeNodeDeletedEvent;
use OCP\Files\Events\Node\BeforeNodeRenamedEvent;
use OCP\Files\Events\Node\BeforeNodeWrittenEvent;
use OCP\Files\Events\Node\NodeCreatedEvent;
use OCP\Files\Events\Node\NodeDeletedEvent;
use OCP\Files\Events\Node\NodeRenamedEvent;
use OCP\Files\Events\Node\NodeWrittenEvent;
use OCP\Util;
use Psr\Container\ContainerInterface;

class Application extends App implements IBootstrap
{
    public const APP_ID = 'harpbridge';

    /**
     * Every event FileEventListener handles: typed node events, and cache
     * events for changes the scanner or external storage found.
     * BeforeNodeRenamedEvent lets the listener tell the cache events of a
     * rename (Cache::move dispatches CacheEntryUpdatedEvent for the new path)
     * from a write; BeforeNodeDeletedEvent lets it list a folder's files
     * while they are still there.
     */
    public const FILE_EVENTS = [
        BeforeNodeWrittenEvent::class,
        NodeWrittenEvent::class,
        NodeCreatedEvent::class,
        BeforeNodeDeletedEvent::class,
        NodeDeletedEvent::class,
        BeforeNodeRenamedEvent::class,
        NodeRenamedEvent::class,
        CacheEntryInsertedEvent::class,
        CacheEntryUpdatedEvent::class,
        CacheEntryRemovedEvent::class,
    ];

    public function __construct(array $urlParams = [])
    {
        parent::__construct(self::APP_ID, $urlParams);
    }

    public function register(IRegistrationContext $context): void
    {
        // A factory, not an instance: the bridge (and Harp\Client) is built
        // the first time a listener or command needs it.
        $context->registerService(Bridge::class, static fn (ContainerInterface $c) => $c->get(BridgeFactory::class)->create());
        foreach (self::FILE_EVENTS as $event) {
            $context->registerEventListener($event, FileEventListener::class);
        }
        // Administration > Overview: extension missing, daemon not running.
        $context->registerSetupCheck(HarpCheck::class);
    }

    public function boot(IBootContext $context): void
    {
        $context->injectFn(static function (Config $config): void {
            if ($config->legacyHook()) {
                Util::connectHook('OC_Filesystem', 'post_write', '\OCA\Harp\Hooks', 'onFileChange');
            }
        });
    }
}
