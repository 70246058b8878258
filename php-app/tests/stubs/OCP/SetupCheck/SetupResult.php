<?php
/**
 * Stand-in for OCP\SetupCheck\SetupResult (nextcloud/server
 * lib/public/SetupCheck/SetupResult.php at
 * 0b58618712c1158b75e2e93f539a69e2a4a7474a): a severity and a translated
 * description, built with success()/info()/warning()/error().
 */

declare(strict_types=1);

namespace OCP\SetupCheck;

class SetupResult implements \JsonSerializable
{
    public const SUCCESS = 'success';
    public const INFO = 'info';
    public const WARNING = 'warning';
    public const ERROR = 'error';

    private ?string $name = null;

    private function __construct(private string $severity, private ?string $description = null, private ?array $descriptionParameters = null, private ?string $linkToDoc = null)
    {
    }

    public static function success(?string $description = null, ?string $linkToDoc = null, ?array $descriptionParameters = null): self
    {
        return new self(self::SUCCESS, $description, $descriptionParameters, $linkToDoc);
    }

    public static function info(?string $description = null, ?string $linkToDoc = null, ?array $descriptionParameters = null): self
    {
        return new self(self::INFO, $description, $descriptionParameters, $linkToDoc);
    }

    public static function warning(?string $description = null, ?string $linkToDoc = null, ?array $descriptionParameters = null): self
    {
        return new self(self::WARNING, $description, $descriptionParameters, $linkToDoc);
    }

    public static function error(?string $description = null, ?string $linkToDoc = null, ?array $descriptionParameters = null): self
    {
        return new self(self::ERROR, $description, $descriptionParameters, $linkToDoc);
    }

    public function getSeverity(): string
    {
        return $this->severity;
    }

    public function getDescription(): ?string
    {
        return $this->description;
    }

    public function getName(): ?string
    {
        return $this->name;
    }

    public function setName(string $name): void
    {
        $this->name = $name;
    }

    public function getLinkToDoc(): ?string
    {
        return $this->linkToDoc;
    }

    public function jsonSerialize(): array
    {
        return ['name' => $this->name, 'severity' => $this->severity, 'description' => $this->description, 'descriptionParameters' => $this->descriptionParameters, 'linkToDoc' => $this->linkToDoc];
    }
}
