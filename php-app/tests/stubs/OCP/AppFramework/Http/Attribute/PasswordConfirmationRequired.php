<?php
/**
 * Stand-in for OCP\AppFramework\Http\Attribute\PasswordConfirmationRequired
 * (nextcloud/server lib/public/AppFramework/Http/Attribute/, since 27): a
 * controller method with it needs a password confirmed in the last 30
 * minutes (PasswordConfirmationMiddleware; see the stand-in server's
 * request()).
 */

declare(strict_types=1);

namespace OCP\AppFramework\Http\Attribute;

#[\Attribute(\Attribute::TARGET_METHOD)]
class PasswordConfirmationRequired
{
}
