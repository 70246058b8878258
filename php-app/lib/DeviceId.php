<?php
/**
 * Harp device IDs as an admin types them: checked and put in the text form
 * Harp prints (8 groups of 7 characters), without the extension, so that a
 * mistyped ID is refused before it is saved in a mapping, even while no
 * daemon runs. The rule is docs/FORMAT.md's: base32 (A-Z 2-7) of the
 * 32-byte ID, then 4 check characters, base32 of the first 5 bytes of
 * SHA3-256("harp-device-id-check" || id); case, dashes and spaces do not
 * matter.
 */

declare(strict_types=1);

namespace OCA\Harp;

final class DeviceId
{
    private const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

    /** @throws \InvalidArgumentException saying what is wrong */
    public static function normalize(string $text): string
    {
        $s = strtoupper(str_replace(['-', ' '], '', $text));
        $malformed = "'$text' is not a Harp device ID: 56 characters from A-Z and 2-7 in 8 groups of 7, as `occ harp:status` prints it on that server.";
        if (strlen($s) !== 56 || strspn($s, self::ALPHABET) !== 56) {
            throw new \InvalidArgumentException($malformed);
        }
        $body = substr($s, 0, 52);
        $raw = self::decode($body);
        if (self::encode($raw) !== $body) {
            throw new \InvalidArgumentException($malformed);
        }
        $check = substr(self::encode(substr(hash('sha3-256', 'harp-device-id-check' . $raw, true), 0, 5)), 0, 4);
        if ($check !== substr($s, 52)) {
            throw new \InvalidArgumentException("Device ID '$text' fails its check: a character is mistyped. Copy it again from `occ harp:status` on that server.");
        }
        return implode('-', str_split($s, 7));
    }

    /** RFC 4648 base32 without padding. */
    private static function encode(string $bytes): string
    {
        $out = '';
        $buf = 0;
        $bits = 0;
        foreach (str_split($bytes) as $c) {
            $buf = ($buf << 8) | ord($c);
            $bits += 8;
            while ($bits >= 5) {
                $bits -= 5;
                $out .= self::ALPHABET[($buf >> $bits) & 31];
            }
            $buf &= (1 << $bits) - 1;
        }
        if ($bits > 0) {
            $out .= self::ALPHABET[($buf << (5 - $bits)) & 31];
        }
        return $out;
    }

    private static function decode(string $text): string
    {
        $out = '';
        $buf = 0;
        $bits = 0;
        foreach (str_split($text) as $c) {
            $buf = ($buf << 5) | strpos(self::ALPHABET, $c);
            $bits += 5;
            if ($bits >= 8) {
                $bits -= 8;
                $out .= chr(($buf >> $bits) & 255);
            }
            $buf &= (1 << $bits) - 1;
        }
        return $out;
    }
}
