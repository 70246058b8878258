<?php
/**
 * IRegistrationContext and IBootContext for the stand-in server: what
 * Application::register() declares goes into the container and the event
 * dispatcher, as Nextcloud's RegistrationContext does after register().
 */

declare(strict_types=1);

namespace OCA\Harp\Tests\Fake;

use OCP\AppFramework\Bootstrap\IBootContext;
use OCP\AppFramework\Bootstrap\IRegistrationContext;
use OCP\AppFramework\IAppContainer;

final class Registration implements IRegistrationContext, IBootContext
{
    /** @var list<array{0: string, 1: string}> */
    public array $listeners = [];
    /** @var list<string> setup checks, shown in Administration > Overview */
    public array $setupChecks = [];

    public function __construct(private Container $c, private Dispatcher $dispatcher)
    {
    }

    public function registerService(string $name, callable $factory, bool $shared = true): void
    {
        $this->c->register($name, $factory);
    }

    public function registerServiceAlias(string $alias, string $target): void
    {
        $this->c->register($alias, fn (Container $c) => $c->get($target));
    }

    public function registerEventListener(string $event, string $listener, int $priority = 0): void
    {
        $this->listeners[] = [$event, $listener];
        $this->dispatcher->addServiceListener($event, $listener, $priority);
    }

    public function registerSetupCheck(string $setupCheckClass): void
    {
        $this->setupChecks[] = $setupCheckClass;
    }

    public function getAppContainer(): IAppContainer
    {
        return $this->c;
    }

    public function injectFn(callable $fn)
    {
        $args = [];
        foreach ((new \ReflectionFunction(\Closure::fromCallable($fn)))->getParameters() as $p) {
            $args[] = $this->c->get((string) $p->getType());
        }
        return $fn(...$args);
    }
}
