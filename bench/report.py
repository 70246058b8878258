"""bench/run's report: the table, Harp/peer ratios from the same round, the
targets of the benchmarks issue, and the chart. Also runs on its own:

    python3 bench/report.py bench/results/<date>/raw.json         # reprints summary.md, redraws ratios.png
    python3 bench/report.py bench/results/<date>/raw.json --doc   # the tables of docs/BENCHMARKS.md

Several Syncthing versions can be measured in one run (systems named
syncthing-<version>-rescan and -watch); the targets that name Syncthing are
judged against the better of them, round by round.
"""

import json
import os
import re
import statistics
import sys

# Per workload: the figure that decides it, and whether lower is better.
KEY = {"a": ("MB_per_s", False), "b": ("seconds", True), "c": ("p50_ms", True),
       "d": ("wan_bytes", True), "e": ("wire_bytes", True), "f": ("rss_mb", True)}
TITLES = {}


def set_titles(cfg):
    """Workload titles with this run's sizes (--quick uses small ones)."""
    TITLES.update({"a": f"a. one {cfg['a_mib']} MiB file", "b": f"b. {cfg['b_files']:,} files of 1-64 KiB",
                   "c": "c. 4 KiB change, notify to peer", "d": f"d. office: {cfg['d_mib']} MiB at the cloud, 10 Mbit/s WAN",
                   "e": f"e. delta: {cfg['e_insert_mib']} MiB into {cfg['e_mib']} MiB",
                   "f": f"f. idle node, {cfg['f_files']:,} files"})
SHORT = {"a": "a. one big file: MB/s", "b": "b. small files: time", "c": "c. 4 KiB change: p50",
         "d": "d. office: WAN bytes", "e": "e. delta: wire bytes", "f": "f. idle: RSS"}
MIB = 1 << 20


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def ok_rows(raw, w, system):
    return [r for r in raw["rows"] if r["workload"] == w and r["system"] == system and "error" not in r]


def ratios(raw, w, peer):
    """Harp's key figure over the peer's, taken round by round; the median over rounds.
    peer is a system's name, or a list of names: then, in each round, the best of them."""
    return best_ratios(raw, w, [peer] if isinstance(peer, str) else peer)[0]


def best_ratios(raw, w, peers):
    """(the median over rounds of Harp's key figure over the best peer's of the same
    round, {peer: in how many rounds it was the best})."""
    key, lower = KEY[w]
    out, best = [], {}
    for rnd in sorted({r["round"] for r in raw["rows"]}):
        h = [r[key] for r in ok_rows(raw, w, "harp") if r["round"] == rnd]
        p = [(r[key], s) for s in peers for r in ok_rows(raw, w, s) if r["round"] == rnd and r.get(key)]
        if h and p:
            v, s = (min if lower else max)(p)
            best[s] = best.get(s, 0) + 1
            out.append(h[0] / v)
    return med(out), best


SYNCTHING = re.compile(r"syncthing(?:-(\d+(?:\.\d+)+))?-(rescan|watch)$")


def syncthings(raw, mode):
    """The Syncthing systems of a run in one mode (rescan or watch), oldest version first.
    Older runs measured one version, named syncthing-rescan and syncthing-watch."""
    names = {r["system"] for r in raw["rows"]}
    found = [(m.group(1) or "", n) for n in names if (m := SYNCTHING.match(n)) and m.group(2) == mode]
    return [n for _, n in sorted(found, key=lambda vn: [int(x) for x in vn[0].split(".") if x])]


def st_version(name):
    m = SYNCTHING.match(name)
    return m.group(1) if m and m.group(1) else ""


def advantage(w, ratio):
    """How many times better Harp is (>1: Harp wins), whichever way the figure points."""
    _, lower = KEY[w]
    return None if not ratio else (1 / ratio if lower else ratio)


def fmt(x, unit="", nd=2):
    if x is None:
        return "—"
    if isinstance(x, float) and abs(x) >= 100:
        nd = 0
    return f"{x:,.{nd}f}{unit}"


def figure(w, r):
    """The workload's own figure, readable."""
    if w == "a":
        return fmt(r.get("MB_per_s"), " MB/s", 1)
    if w == "b":
        return fmt(r.get("seconds"), " s")
    if w == "c":
        return fmt(r.get("p50_ms"), " ms") + f" (min {fmt(r.get('min_ms'))}, n={r.get('runs')})"
    if w == "d":
        return (f"WAN {fmt(r.get('wan_bytes', 0) / 1e6, ' MB', 1)} = {fmt(r.get('wan_ratio'), '×', 3)} the file; "
                f"a {fmt(r.get('a_s'), ' s')}, b {fmt(r.get('b_s'), ' s')}")
    if w == "e":
        return f"wire {fmt(r.get('wire_bytes', 0) / MIB, ' MiB')}"
    if w == "f":
        return (f"RSS {fmt(r.get('rss_mb'), ' MB', 1)} (anon {fmt(r.get('rss_anon_mb'), '', 1)}), idle CPU {fmt(r.get('idle_cpu_s'), ' s', 3)} "
                f"in {r.get('idle_s')} s, indexed in {fmt(r.get('index_s'), ' s')}")
    return ""


def median_row(rows):
    keys = {k for r in rows for k, v in r.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    m = {k: med([r.get(k) for r in rows]) for k in keys}
    m["runs"] = rows[0].get("runs")
    return m


def best_syncthing(raw, w):
    """Harp's ratio to the better Syncthing (rescan mode, its best case) of each
    round, and which version that was: '1.19.2', or '1.19.2 / 1.29.5' when
    the rounds disagree."""
    ratio, best = best_ratios(raw, w, syncthings(raw, "rescan"))
    return ratio, " / ".join(st_version(s) for s in sorted(best, key=best.get, reverse=True))


def targets(raw):
    """The issue's targets, each with its measured ratio, a verdict, and against
    which Syncthing version it was judged (the better one of each round)."""
    def r(w, peer):
        return ratios(raw, w, peer)

    def harp(w, key):
        return med([x.get(key) for x in ok_rows(raw, w, "harp")])
    (a_st, a_v), (b_st, b_v), (f_st, f_v) = (best_syncthing(raw, w) for w in "abf")
    a_sm, a_q, b_rs = r("a", "sendme"), r("a", "quic-bare"), r("b", "rsync")
    c50, d_wan, e_wire = harp("c", "p50_ms"), harp("d", "wan_ratio"), harp("e", "wire_bytes")
    rows = [
        ("a", "MB/s ≥ 2× Syncthing's", a_st, "×", a_st is not None and a_st >= 2, a_v),
        ("a", "MB/s ≥ 3× sendme's", a_sm, "×", a_sm is not None and a_sm >= 3, ""),
        ("a", "MB/s ≥ 60 % of bare quinn", a_q, "×", a_q is not None and a_q >= 0.6, ""),
        ("b", "time ≤ 0.5× Syncthing's", b_st, "×", b_st is not None and b_st <= 0.5, b_v),
        ("b", "time ≤ rsync's (no --fsync)", b_rs, "×", b_rs is not None and b_rs <= 1, ""),
        ("c", "p50 ≤ 10 ms", c50, " ms", c50 is not None and c50 <= 10, ""),
        ("d", "WAN bytes ≤ 1.1× the file", d_wan, "×", d_wan is not None and d_wan <= 1.1, ""),
        ("e", "wire bytes ≤ 4 MiB", None if e_wire is None else e_wire / MIB, " MiB",
         e_wire is not None and e_wire <= 4 * MIB, ""),
        ("f", "idle RSS ≤ Syncthing's", f_st, "×", f_st is not None and f_st <= 1, f_v),
    ]
    return [(w, t, v, u, ("**met**" if ok else "**missed**") if v is not None else "not measured", sv)
            for w, t, v, u, ok, sv in rows]


def summary(raw):
    set_titles(raw["config"])
    load = raw.get("loadavg")
    L = [f"# Harp benchmark, {raw['date']}{' (quick: a smoke test, not figures)' if raw['quick'] else ''}", "",
         f"Machine: {raw['machine']}. Rounds: {raw['config']['rounds']}. "
         f"Run took {raw['duration_s'] / 60:.1f} min." + (
             f" Load average (1, 5, 15 min) at the start {', '.join(map(str, load['start']))}, "
             f"at the end {', '.join(map(str, load['end']))}." if load else ""), "", "Versions: " +
         "; ".join(f"{k} {v}" for k, v in raw["versions"].items()) + ".", ""]
    for k, v in raw.get("skipped", {}).items():
        L.append(f"Skipped: {k}: {v}.")
    L += ["", "Medians over rounds. CPU is all processes of the system, both ends; peak RSS is its "
          "largest process. Ratio: Harp's figure over the peer's, from the same round (median over rounds).", "",
          "| workload | system | figure | time | CPU s | peak RSS MB | Harp/peer | Harp better by |",
          "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    systems = list(dict.fromkeys(r["system"] for r in raw["rows"]))
    for w in "abcdef":
        for s in systems:
            rows = ok_rows(raw, w, s)
            errs = [r for r in raw["rows"] if r["workload"] == w and r["system"] == s and "error" in r]
            if not rows and not errs:
                continue
            if not rows:
                L.append(f"| {TITLES[w]} | {s} | failed: {errs[0]['error'][:120]} | | | | | |")
                continue
            m = median_row(rows)
            ratio = None if s == "harp" else ratios(raw, w, s)
            bad = "" if all(r.get("hash_ok") is not False for r in rows) else " **content differs**"
            L.append(f"| {TITLES[w]} | {s} | {figure(w, m)}{bad} | {fmt(m.get('seconds'), ' s')} | "
                     f"{fmt(m.get('cpu_s'))} | {fmt(m.get('peak_rss_mb'), '', 1)} | "
                     f"{'' if s == 'harp' else fmt(ratio, '', 3)} | "
                     f"{'' if s == 'harp' else fmt(advantage(w, ratio), '×')} |")
    L += ["", "## Targets", "", "Harp's figure over the peer's. Syncthing is the better of the versions "
          "measured, in rescan mode, in each round (the version named is the one that was).", "",
          "| workload | target | measured | against Syncthing | verdict |", "| --- | --- | ---: | --- | --- |"]
    for w, t, v, u, verdict, sv in targets(raw):
        L.append(f"| {w} | {t} | {fmt(v, u, 3)} | {sv} | {verdict} |")
    return "\n".join(L) + "\n"


def num(x, nd=1):
    """A figure for the doc: thousands separated past 100, else nd decimals;
    ratios below 0.01 with two significant digits."""
    if x is None:
        return "—"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if 0 < abs(x) < 0.01:
        return f"{x:.2g}"
    return f"{x:.{nd}f}"


def size(mib):
    return f"{mib // 1024} GiB" if mib % 1024 == 0 else f"{mib} MiB"


def doc_columns(raw):
    names = {r["system"] for r in raw["rows"]}
    cols = ["harp"]
    for st in syncthings(raw, "rescan"):
        cols += [st] + [w for w in syncthings(raw, "watch") if st_version(w) == st_version(st)]
    cols += [w for w in syncthings(raw, "watch") if w not in cols]
    cols += [n for n in ("rsync", "rsync-fsync", "sendme", "quic-bare") if n in names]
    return cols


def doc_header(name):
    m = SYNCTHING.match(name)
    if m:
        return f"Syncthing{' ' + m.group(1) if m.group(1) else ''}, {'rescan' if m.group(2) == 'rescan' else 'watcher'}"
    return {"harp": "Harp", "rsync": "rsync", "rsync-fsync": "rsync `--fsync`", "sendme": "sendme",
            "quic-bare": "bare quinn"}.get(name, name)


def doc_results(raw):
    """The results table of docs/BENCHMARKS.md: one column per system, three
    lines per workload (its deciding figure, the other figures, Harp/peer)."""
    cfg, cols = raw["config"], doc_columns(raw)
    meds = {(w, s): median_row(rows) for w in "abcdef" for s in cols if (rows := ok_rows(raw, w, s))}
    b_bytes = meds.get(("b", "harp"), {}).get("bytes")
    spec = {
        "a": (f"a. {size(cfg['a_mib'])} random file: MB/s", lambda m: num(m.get("MB_per_s"), 0),
              "time, CPU s, peak RSS MB",
              lambda m: f"{num(m.get('seconds'))} s, {num(m.get('cpu_s'))}, {num(m.get('peak_rss_mb'), 0)}",
              "Harp/peer MB/s (same round)"),
        "b": (f"b. {cfg['b_files']:,} files of 1–64 KiB"
              + (f" ({b_bytes / 1e6:,.0f} MB)" if b_bytes else "") + " in 100 folders: time",
              lambda m: f"{num(m.get('seconds'))} s", "CPU s, peak RSS MB",
              lambda m: f"{num(m.get('cpu_s'))}, {num(m.get('peak_rss_mb'), 0)}", "Harp/peer time (same round)"),
        "c": (f"c. 4 KiB file rewritten: p50 to the new bytes on the peer ({cfg['c_runs']} runs; "
              f"watcher {cfg['c_runs_watch']})", lambda m: f"{num(m.get('p50_ms'))} ms", None, None,
              "Harp/peer p50"),
        "d": (f"d. office: {size(cfg['d_mib'])} at the cloud, 10 Mbit/s WAN: WAN bytes",
              lambda m: f"{num(m.get('wan_bytes', 0) / 1e6)} MB = {m.get('wan_ratio', 0):.3f}×",
              "time until a / b have it", lambda m: f"{num(m.get('a_s'))} s / {num(m.get('b_s'))} s",
              "Harp/peer WAN bytes"),
        "e": (f"e. delta, {size(cfg['e_insert_mib'])} into a synced {size(cfg['e_mib'])} file: bytes on b's link",
              lambda m: f"{m.get('wire_bytes', 0) / MIB:.2f} MiB", "time, CPU s",
              lambda m: f"{num(m.get('seconds'))} s, {num(m.get('cpu_s'))}", "Harp/peer wire bytes"),
        "f": (f"f. idle, {cfg['f_files']:,} files indexed: RSS",
              lambda m: f"{num(m.get('rss_mb'), 0)} MB (anon {num(m.get('rss_anon_mb'), 0)})",
              f"CPU in {cfg['f_idle_s']} s idle; time to index",
              lambda m: f"{num(m.get('idle_cpu_s'), 2)} s; {num(m.get('index_s'))} s", "Harp/peer RSS"),
    }
    L = ["| workload | " + " | ".join(doc_header(c) for c in cols) + " |",
         "| --- |" + " ---: |" * len(cols)]
    pad = "&nbsp;&nbsp;"
    for w, (title, main, dtitle, detail, rtitle) in spec.items():
        if ("harp", w) not in {(s, w2) for w2, s in meds}:
            continue
        line = [title]
        for c in cols:
            m = meds.get((w, c))
            cell = "" if m is None else main(m)
            if c == "harp" and cell:
                cell = f"**{cell}**" + (f" (min {num(m.get('min_ms'))})" if w == "c" else "")
            line.append(cell)
        L.append("| " + " | ".join(line) + " |")
        if detail:
            L.append(f"| {pad}{dtitle} | " + " | ".join("" if (m := meds.get((w, c))) is None else detail(m)
                                                        for c in cols) + " |")
        L.append(f"| {pad}{rtitle} | " + " | ".join(
            "" if c == "harp" or (w, c) not in meds else num(ratios(raw, w, c), 2) for c in cols) + " |")
    return "\n".join(L) + "\n"


def doc_targets(raw):
    """The targets table of docs/BENCHMARKS.md, each Syncthing target judged
    against the better Syncthing of each round (rescan mode, its best case)."""
    def hm(w, s, key):
        return med([x.get(key) for x in ok_rows(raw, w, s)])

    def vs_syncthing(w, key, unit, nd=1):
        ratio, v = best_syncthing(raw, w)
        best = [s for s in syncthings(raw, "rescan") if st_version(s) == v.split(" / ")[0]] or syncthings(raw, "rescan")
        out = (f"{num(ratio, 2)}× against Syncthing{' ' + v if v else ''} ({num(hm(w, 'harp', key), nd)} vs "
               f"{num(hm(w, best[0], key), nd)}{unit})")
        others = [s for s in syncthings(raw, "rescan") if s != best[0]]
        watch = syncthings(raw, "watch")
        out += "".join(f"; {num(ratios(raw, w, s), 2)}× against {st_version(s)}" for s in others)
        if watch and w in "ab":
            out += f"; {num(ratios(raw, w, watch), 2)}× against the better watcher"
        return out

    def each(w, key, fn):
        return ", ".join(f"{st_version(s) + ' ' if st_version(s) else ''}{fn(hm(w, s, key))}"
                         for s in syncthings(raw, "rescan") if ok_rows(raw, w, s))
    rows = []
    for w, t, v, _, verdict, _ in targets(raw):
        if v is None:
            m = "—"
        elif w == "a" and "Syncthing" in t:
            m = vs_syncthing("a", "MB_per_s", " MB/s", 0)
        elif w == "a" and "sendme" in t:
            m = f"{num(v, 2)}× ({num(hm('a', 'harp', 'MB_per_s'), 0)} vs {num(hm('a', 'sendme', 'MB_per_s'), 0)} MB/s)"
        elif w == "a":
            m = (f"{num(None if v is None else v * 100, 0)} % ({num(hm('a', 'harp', 'MB_per_s'), 0)} vs "
                 f"{num(hm('a', 'quic-bare', 'MB_per_s'), 0)} MB/s)")
        elif w == "b" and "Syncthing" in t:
            m = vs_syncthing("b", "seconds", " s")
        elif w == "b":
            m = (f"{num(v, 2)}× ({num(hm('b', 'harp', 'seconds'))} vs {num(hm('b', 'rsync', 'seconds'))} s); "
                 f"{num(ratios(raw, 'b', 'rsync-fsync'), 2)}× rsync `--fsync`")
        elif w == "c":
            m = f"{num(v)} ms (Syncthing rescanned: {each('c', 'p50_ms', lambda x: f'{num(x)} ms')})"
        elif w == "d":
            m = f"{num(v, 3)}× (Syncthing {each('d', 'wan_ratio', lambda x: f'{num(x, 2)}×')})"
        elif w == "e":
            m = (f"{num(v, 2)} MiB (Syncthing {each('e', 'wire_bytes', lambda x: f'{x / MIB:.2f}')}; rsync "
                 f"{num((hm('e', 'rsync', 'wire_bytes') or 0) / MIB, 2)})")
        else:
            m = vs_syncthing("f", "rss_mb", " MB", 0)
        rows.append(f"| {w} | {t.replace('(no --fsync)', 'without `--fsync`')} | {m} | {verdict} |")
    return "| | target | measured | verdict |\n| --- | --- | --- | --- |\n" + "\n".join(rows) + "\n"


def chart(raw, path):
    set_titles(raw["config"])
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    labels, values = [], []
    systems = list(dict.fromkeys(r["system"] for r in raw["rows"] if r["system"] != "harp"))
    for w in "abcdef":
        for s in systems:
            adv = advantage(w, ratios(raw, w, s))
            if adv:
                labels.append(f"{SHORT[w]} — vs {s}" + (" (the link's ceiling)" if s == "quic-bare" else ""))
                values.append(adv)
    fig, ax = plt.subplots(figsize=(10, 0.38 * len(labels) + 1.6))
    colors = ["#2a7" if v >= 1 else "#c43" for v in values]
    ax.barh(range(len(values)), values, color=colors)
    ax.set_yticks(range(len(values)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.axvline(1, color="black", linewidth=0.8)
    for i, v in enumerate(values):
        ax.text(v, i, f" {v:.2f}×", va="center", fontsize=7)
    ax.set_xlabel("Harp better by (×, log scale; > 1: Harp wins; same-round ratios, median of rounds)")
    ax.set_title(f"Harp against its peers, {raw['date']}" + (" (quick)" if raw["quick"] else ""))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


if __name__ == "__main__":
    raw_path = sys.argv[1]
    raw = json.load(open(raw_path))
    if sys.argv[2:] == ["--doc"]:
        print(doc_results(raw))
        print(doc_targets(raw))
        sys.exit(0)
    text = summary(raw)
    out = os.path.dirname(raw_path)
    open(os.path.join(out, "summary.md"), "w").write(text)
    chart(raw, os.path.join(out, "ratios.png"))
    print(text)
