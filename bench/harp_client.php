<?php
/**
 * bench/run's hands on the Harp nodes: one long-lived PHP process that reads
 * one JSON request per line on stdin and answers one JSON line on stdout,
 * so a notify costs what it costs in a PHP application (a Client call), not
 * the start of a PHP process.
 *
 *   {"op": "notify", "state": DIR, "folder": "docs", "path": "x.bin"}
 *   {"op": "scan" | "peers" | "status", "state": DIR, "folder": "docs"}
 *
 * Answer: {"ok": true, "result": ...} or {"ok": false, "error": "..."}.
 */

declare(strict_types=1);

while (($line = fgets(STDIN)) !== false) {
    $req = json_decode($line, true);
    try {
        $c = new Harp\Client($req['state']);
        $result = match ($req['op']) {
            'notify' => $c->notify($req['folder'], $req['path']),
            'scan' => $c->scan($req['folder']),
            'peers' => $c->peers(),
            'status' => $c->status(),
        };
        echo json_encode(['ok' => true, 'result' => $result]), "\n";
    } catch (Throwable $e) {
        echo json_encode(['ok' => false, 'error' => get_class($e) . ': ' . $e->getMessage()]), "\n";
    }
}
