"""bench/run's report: the table, Harp/peer ratios from the same round, the
targets of the benchmarks issue, and the chart. Also runs on its own:

    python3 bench/report.py bench/results/<date>/raw.json   # reprints summary.md, redraws ratios.png
"""

import json
import os
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
    """Harp's key figure over the peer's, taken round by round; the median over rounds."""
    key, _ = KEY[w]
    out = []
    for rnd in sorted({r["round"] for r in raw["rows"]}):
        h = [r[key] for r in ok_rows(raw, w, "harp") if r["round"] == rnd]
        p = [r[key] for r in ok_rows(raw, w, peer) if r["round"] == rnd and r.get(key)]
        if h and p:
            out.append(h[0] / p[0])
    return med(out)


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


def targets(raw):
    """The issue's targets, each with its measured ratio and a verdict."""
    def r(w, peer):
        return ratios(raw, w, peer)

    def harp(w, key):
        return med([x.get(key) for x in ok_rows(raw, w, "harp")])
    a_st, a_sm, a_q = r("a", "syncthing-rescan"), r("a", "sendme"), r("a", "quic-bare")
    b_st, b_rs = r("b", "syncthing-rescan"), r("b", "rsync")
    c50, d_wan, e_wire, f_st = harp("c", "p50_ms"), harp("d", "wan_ratio"), harp("e", "wire_bytes"), r("f", "syncthing-rescan")
    rows = [
        ("a", "MB/s ≥ 2× Syncthing's", a_st, "×", a_st is not None and a_st >= 2),
        ("a", "MB/s ≥ 3× sendme's", a_sm, "×", a_sm is not None and a_sm >= 3),
        ("a", "MB/s ≥ 60 % of bare quinn", a_q, "×", a_q is not None and a_q >= 0.6),
        ("b", "time ≤ 0.5× Syncthing's", b_st, "×", b_st is not None and b_st <= 0.5),
        ("b", "time ≤ rsync's (no --fsync)", b_rs, "×", b_rs is not None and b_rs <= 1),
        ("c", "p50 ≤ 10 ms", c50, " ms", c50 is not None and c50 <= 10),
        ("d", "WAN bytes ≤ 1.1× the file", d_wan, "×", d_wan is not None and d_wan <= 1.1),
        ("e", "wire bytes ≤ 4 MiB", None if e_wire is None else e_wire / MIB, " MiB",
         e_wire is not None and e_wire <= 4 * MIB),
        ("f", "idle RSS ≤ Syncthing's", f_st, "×", f_st is not None and f_st <= 1),
    ]
    return [(w, t, v, u, ("**met**" if ok else "**missed**") if v is not None else "not measured")
            for w, t, v, u, ok in rows]


def summary(raw):
    set_titles(raw["config"])
    L = [f"# Harp benchmark, {raw['date']}{' (quick: a smoke test, not figures)' if raw['quick'] else ''}", "",
         f"Machine: {raw['machine']}. Rounds: {raw['config']['rounds']}. "
         f"Run took {raw['duration_s'] / 60:.1f} min.", "", "Versions: " +
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
    L += ["", "## Targets", "", "| workload | target | measured | verdict |", "| --- | --- | ---: | --- |"]
    for w, t, v, u, verdict in targets(raw):
        L.append(f"| {w} | {t} | {fmt(v, u, 3)} | {verdict} |")
    return "\n".join(L) + "\n"


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
    text = summary(raw)
    out = os.path.dirname(raw_path)
    open(os.path.join(out, "summary.md"), "w").write(text)
    chart(raw, os.path.join(out, "ratios.png"))
    print(text)
