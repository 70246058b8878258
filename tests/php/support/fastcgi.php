<?php
/**
 * A minimal FastCGI client (responder role, keep-alive connections), enough
 * to drive php-fpm the way a web server does. Spec: FastCGI 1.0.
 */

declare(strict_types=1);

namespace Harp\Tests;

final class FastCgi
{
    private const BEGIN_REQUEST = 1;
    private const END_REQUEST = 3;
    private const PARAMS = 4;
    private const STDIN = 5;
    private const STDOUT = 6;
    private const STDERR = 7;

    /** @var resource */
    private $sock;
    private int $id = 0;

    public function __construct(string $unixSocket)
    {
        $s = @stream_socket_client("unix://$unixSocket", $errno, $errstr, 10);
        if ($s === false) {
            throw new \RuntimeException("cannot connect to $unixSocket: $errstr");
        }
        stream_set_timeout($s, 30);
        $this->sock = $s;
    }

    private static function record(int $type, int $id, string $content): string
    {
        return pack('CCnnCx', 1, $type, $id, strlen($content), 0) . $content;
    }

    private static function pairs(array $params): string
    {
        $out = '';
        foreach ($params as $k => $v) {
            foreach ([strlen((string) $k), strlen((string) $v)] as $len) {
                $out .= $len < 128 ? chr($len) : pack('N', $len | 0x80000000);
            }
            $out .= $k . $v;
        }
        return $out;
    }

    private function readExactly(int $n): string
    {
        $buf = '';
        while (strlen($buf) < $n) {
            $chunk = fread($this->sock, $n - strlen($buf));
            if ($chunk === false || $chunk === '') {
                throw new \RuntimeException('php-fpm closed the connection');
            }
            $buf .= $chunk;
        }
        return $buf;
    }

    /** Runs one request; returns the response body (headers stripped). */
    public function request(string $script, string $query = ''): string
    {
        $id = $this->id = ($this->id % 65535) + 1;
        $params = [
            'GATEWAY_INTERFACE' => 'FastCGI/1.0',
            'REQUEST_METHOD' => 'GET',
            'SCRIPT_FILENAME' => $script,
            'SCRIPT_NAME' => '/' . basename($script),
            'QUERY_STRING' => $query,
            'SERVER_PROTOCOL' => 'HTTP/1.1',
            'SERVER_SOFTWARE' => 'harp-tests',
            'REMOTE_ADDR' => '127.0.0.1',
        ];
        $keepConn = 1;
        fwrite($this->sock, self::record(self::BEGIN_REQUEST, $id, pack('nCx5', 1, $keepConn))
            . self::record(self::PARAMS, $id, self::pairs($params))
            . self::record(self::PARAMS, $id, '')
            . self::record(self::STDIN, $id, ''));
        $stdout = '';
        $stderr = '';
        while (true) {
            $h = unpack('Cversion/Ctype/nid/nlen/Cpad/Cres', $this->readExactly(8));
            $body = $this->readExactly($h['len'] + $h['pad']);
            $body = substr($body, 0, $h['len']);
            if ($h['type'] === self::STDOUT) {
                $stdout .= $body;
            } elseif ($h['type'] === self::STDERR) {
                $stderr .= $body;
            } elseif ($h['type'] === self::END_REQUEST && $h['id'] === $id) {
                break;
            }
        }
        $parts = explode("\r\n\r\n", $stdout, 2);
        if ($stderr !== '') {
            throw new \RuntimeException("php-fpm stderr: $stderr");
        }
        return $parts[1] ?? '';
    }
}
