<?php
/**
 * A small dependency-injection container for the stand-in server: services
 * registered by name, everything else built by autowiring constructor
 * parameters by type, as Nextcloud's DI container does for app classes.
 */

declare(strict_types=1);

namespace OCA\Harp\Tests\Fake;

use OCP\AppFramework\IAppContainer;

final class Container implements IAppContainer
{
    /** @var array<string, callable> */
    private array $factories = [];
    /** @var array<string, mixed> */
    private array $instances = [];

    public function register(string $name, callable $factory): void
    {
        $this->factories[$name] = $factory;
        unset($this->instances[$name]);
    }

    public function set(string $name, mixed $instance): void
    {
        $this->instances[$name] = $instance;
    }

    /** Whether $id was built already (tests check that register() stays lazy). */
    /** Drops a built instance, so the next get() builds it again (a new request's controller). */
    public function forget(string $id): void
    {
        unset($this->instances[$id]);
    }

    public function built(string $id): bool
    {
        return isset($this->instances[$id]);
    }

    public function has(string $id): bool
    {
        return isset($this->instances[$id]) || isset($this->factories[$id]) || class_exists($id);
    }

    public function get(string $id): mixed
    {
        if (array_key_exists($id, $this->instances)) {
            return $this->instances[$id];
        }
        if (isset($this->factories[$id])) {
            return $this->instances[$id] = ($this->factories[$id])($this);
        }
        if (!class_exists($id)) {
            throw new \RuntimeException("stand-in container: nothing registered for $id");
        }
        $ctor = (new \ReflectionClass($id))->getConstructor();
        $args = [];
        foreach ($ctor?->getParameters() ?? [] as $p) {
            $t = $p->getType();
            if ($t instanceof \ReflectionNamedType && !$t->isBuiltin()) {
                $args[] = $this->get($t->getName());
            } elseif ($p->isDefaultValueAvailable()) {
                $args[] = $p->getDefaultValue();
            } else {
                throw new \RuntimeException("stand-in container: cannot build $id: parameter \${$p->getName()}");
            }
        }
        return $this->instances[$id] = new $id(...$args);
    }
}
