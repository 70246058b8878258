"""Harp against Syncthing, rsync, sendme and a bare QUIC connection.

Run it through bench/run, which installs the peers and builds Harp first.

The network: network namespaces made for this run (named after its pid),
removed at exit whatever happens:

    a 10.216.0.1 ─┐
                  ├─ bridge + router 10.216.0.254 ─ tbf 10 Mbit/s ─ c 10.217.1.1
    b 10.216.0.2 ─┘        (the LAN)                 (the WAN)       (the cloud)

Syncthing is measured in every version given with --syncthing (bench/run
passes Debian 12's 1.19.2 and Debian 13's 1.29.5), each in two modes, named
syncthing-<version>-rescan and syncthing-<version>-watch; the report judges
the targets against the better version of each round.

Each round runs every workload for every system in turn (the order rotates
from round to round), each system with fresh peers and fresh folders filled
from the same generated data, checked by SHA-256 afterwards. Workloads:

    a  one 1 GiB random file, a -> b
    b  10,000 files of 1-64 KiB in 100 folders, a -> b
    c  a 4 KiB file rewritten on a: time until b has the new bytes (median of 20)
    d  the office: a 50 MiB file appears at c; WAN bytes, time until a and b have it
    e  delta: 1 MiB inserted in the middle of a synced 512 MiB file; bytes on b's wire
    f  idle: resident memory and CPU of a node with 100,000 files indexed

Writes bench/results/<date>/raw.json, summary.md and ratios.png.
"""

import argparse
import ctypes
import datetime
import fnmatch
import hashlib
import http.client
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

import report  # bench/report.py: the table, the ratios, the targets, the chart

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MIB = 1 << 20
TAG = f"hr{os.getpid()}"  # "r" is not a hex digit: no clash with the tests' h<hex> namespaces
LAN = {"a": "10.216.0.1", "b": "10.216.0.2"}
CLOUD = "10.217.1.1"
ADDR = {**LAN, "c": CLOUD}
CLK = os.sysconf("SC_CLK_TCK")

FULL = dict(rounds=2, a_mib=1024, b_files=10000, c_runs=20, c_runs_watch=5, d_mib=50,
            e_mib=512, e_insert_mib=1, f_files=100000, f_idle_s=20)
QUICK = dict(rounds=1, a_mib=8, b_files=200, c_runs=3, c_runs_watch=1, d_mib=2,
             e_mib=16, e_insert_mib=1, f_files=1000, f_idle_s=3)


def log(msg):
    print(f"\033[1m==> {msg}\033[0m", flush=True)


def sh(cmd, check=True):
    r = subprocess.run(cmd, shell=True, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"{cmd}: {r.stdout}{r.stderr}")
    return r.stdout.strip()


def wait_until(cond, timeout, what, step=0.005):
    """Polls cond() until it is true; fails after timeout seconds."""
    end = time.monotonic() + timeout
    while True:
        if cond():
            return
        if time.monotonic() > end:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(step)


# ---------------------------------------------------------------- network

class Net:
    """The namespaces of this run: a and b on a LAN bridge, c behind a 10 Mbit/s WAN."""

    def __init__(self):
        self.namespaces = []

    def ns(self, host):
        return f"{TAG}-{host}"

    def enter(self, host):
        """The prefix that runs a command in a host's namespace (nsenter: it adds no process of its own)."""
        return ["nsenter", f"--net=/run/netns/{self.ns(host)}"]

    def _add(self, host):
        ns = self.ns(host)
        sh(f"ip netns add {ns}")
        self.namespaces.append(ns)
        sh(f"ip netns exec {ns} ip link set lo up")
        return ns

    def up(self):
        br = self._add("br")
        sh(f"ip netns exec {br} ip link add br0 type bridge")
        sh(f"ip netns exec {br} ip link set br0 up")
        sh(f"ip netns exec {br} ip addr add 10.216.0.254/24 dev br0")
        sh(f"ip netns exec {br} sysctl -q -w net.ipv4.ip_forward=1")
        for n, host in enumerate(["a", "b"], 1):
            ns, v = self._add(host), f"{TAG}{n}"
            sh(f"ip link add {v} type veth peer name {v}p")
            sh(f"ip link set {v} netns {ns}")
            sh(f"ip link set {v}p netns {br}")
            sh(f"ip netns exec {br} ip link set {v}p master br0 up")
            sh(f"ip netns exec {ns} ip addr add {LAN[host]}/24 dev {v}")
            sh(f"ip netns exec {ns} ip link set {v} up")
            sh(f"ip netns exec {ns} ip route add default via 10.216.0.254")
        # The cloud host: its own link to the router, 10 Mbit/s each way.
        ns, wr, wc = self._add("c"), f"{TAG}wr", f"{TAG}wc"
        sh(f"ip link add {wr} type veth peer name {wc}")
        sh(f"ip link set {wr} netns {br}")
        sh(f"ip link set {wc} netns {ns}")
        sh(f"ip netns exec {br} ip addr add 10.217.1.254/24 dev {wr}")
        sh(f"ip netns exec {br} ip link set {wr} up")
        sh(f"ip netns exec {ns} ip addr add {CLOUD}/24 dev {wc}")
        sh(f"ip netns exec {ns} ip link set {wc} up")
        sh(f"ip netns exec {ns} ip route add default via 10.217.1.254")
        for n, dev in [(br, wr), (ns, wc)]:
            sh(f"ip netns exec {n} tc qdisc add dev {dev} root tbf rate 10mbit burst 32kbit latency 400ms")

    def wire_bytes(self, host):
        """Bytes in and out of a host's link: b's LAN link, or the WAN (router side) for c."""
        ns, dev = (self.ns("br"), f"{TAG}wr") if host == "c" else (self.ns(host), f"{TAG}{'ab'.index(host) + 1}")
        return sum(int(sh(f"ip netns exec {ns} cat /sys/class/net/{dev}/statistics/{f}"))
                   for f in ("rx_bytes", "tx_bytes"))

    def down(self):
        for ns in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self.namespaces = []


# ---------------------------------------------------------------- processes

def proc_stat(pid):
    """CPU seconds (own + reaped children) and peak RSS in MB of a live process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        cpu = sum(int(x) for x in fields[11:15]) / CLK
        with open(f"/proc/{pid}/status") as f:
            st = f.read()
        hwm = int(re.search(r"VmHWM:\s+(\d+)", st).group(1)) / 1024
        rss = int(re.search(r"VmRSS:\s+(\d+)", st).group(1)) / 1024
        return cpu, hwm, rss
    except (OSError, AttributeError):
        return 0.0, 0.0, 0.0


def descendants(pid):
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                for c in f.read().split():
                    out += [int(c)] + descendants(int(c))
    except OSError:
        pass
    return out


def tree_stat(pid):
    """CPU seconds of a process and its live descendants (each with its reaped children),
    and the RSS of its largest process: Syncthing, for one, runs as a monitor and a worker."""
    stats = [proc_stat(p) for p in [pid] + descendants(pid)]
    return sum(s[0] for s in stats), max(s[1] for s in stats), max(s[2] for s in stats)


def pids_of(daemons):
    return [q for d in daemons for q in [d.pid] + descendants(d.pid)]


class Meter:
    """CPU seconds and peak RSS of one system's processes during one measurement.

    Long-lived daemons are read from /proc (with a sampler for the children
    they fork, like rsync's per-connection receiver); short-lived commands
    report their CPU through wait4's rusage, their RSS through the sampler."""

    def __init__(self, daemons, profile=None):
        self.daemons = daemons
        self.perf = None
        if profile and daemons:
            # cpu-clock: a software event, so it works in VMs without hardware counters.
            # And perf trace -s: the time spent in each system call (fsync, ...),
            # which shows the waiting that a CPU profile cannot.
            pids = ",".join(str(p) for p in pids_of(daemons))
            self.perf = [subprocess.Popen(["perf", "trace", "-s", "-o", profile + ".syscalls.txt", "-p", pids],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
            time.sleep(1)  # two perf sessions starting at once sometimes fail to set up
            self.perf.append(subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-F", "499", "-g",
                                               "-o", profile, "-p", pids],
                                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            time.sleep(1)
            self.profile = profile
        self.cpu0 = {p.pid: tree_stat(p.pid)[0] for p in daemons}
        self.cpu_clients = 0.0
        self.peak = 0.0
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self):
        while self.running:
            for pid in [p.pid for p in self.daemons] + list(self.clients):
                for q in [pid] + descendants(pid):
                    self.peak = max(self.peak, proc_stat(q)[1])
            time.sleep(0.05)

    clients = ()

    def watch(self, pid):
        """A short-lived command: sampled for its peak RSS while it runs."""
        self.clients = set(self.clients) | {pid}

    def client(self, pid, rusage):
        # CPU from wait4; not ru_maxrss, which for a child of this (big)
        # Python process starts at Python's own size.
        self.cpu_clients += rusage.ru_utime + rusage.ru_stime
        self.clients = set(self.clients) - {pid}

    def stop(self):
        self.running = False
        self.thread.join()
        if self.perf:
            for p in self.perf:
                p.send_signal(signal.SIGINT)
                p.wait(60)
            with open(self.profile + ".txt", "w") as f:
                subprocess.run(["perf", "report", "-i", self.profile, "--stdio", "--no-children",
                                "--sort", "comm,dso,symbol", "--percent-limit", "1.5", "-g", "none"],
                               stdout=f, stderr=subprocess.DEVNULL)
            os.unlink(self.profile)
        cpu = self.cpu_clients
        for p in self.daemons:
            c, hwm, _ = tree_stat(p.pid)
            cpu += c - self.cpu0[p.pid]
            self.peak = max(self.peak, hwm)
        return {"cpu_s": round(cpu, 2), "peak_rss_mb": round(self.peak, 1)}


class Daemon:
    """A long-lived process in a namespace; output goes to a log file."""

    def __init__(self, net, host, args, logfile, env=None, cwd=None):
        self.log = logfile
        self.p = subprocess.Popen([*net.enter(host), *args], cwd=cwd,
                                  stdout=open(logfile, "wb"), stderr=subprocess.STDOUT,
                                  env={**os.environ, **(env or {})}, start_new_session=True)
        self.pid = self.p.pid

    def output(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, signal.SIGTERM)
                self.p.wait(10)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait()


def run_in(net, host, args, meter=None, cwd=None, timeout=3600):
    """Runs a command in a namespace to its end; its CPU and RSS go to meter."""
    p = subprocess.Popen([*net.enter(host), *args], cwd=cwd,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if meter:
        meter.watch(p.pid)
    timer = threading.Timer(timeout, p.kill)
    timer.start()
    out = p.stdout.read().decode(errors="replace")
    _, status, rusage = os.wait4(p.pid, 0)
    timer.cancel()
    p.returncode = os.waitstatus_to_exitcode(status)
    if meter:
        meter.client(p.pid, rusage)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {p.returncode}: {out[-2000:]}")
    return out


# ---------------------------------------------------------------- data

def tree(path):
    """{relative path: size} of the regular files under path (names starting with '.' skipped)."""
    out = {}
    for d, dirs, files in os.walk(path):
        dirs[:] = [x for x in dirs if not x.startswith(".")]
        for f in files:
            if not f.startswith("."):
                full = os.path.join(d, f)
                try:
                    out[os.path.relpath(full, path)] = os.path.getsize(full)
                except OSError:
                    pass
    return out


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(4 * MIB):
            h.update(chunk)
    return h.hexdigest()


def random_file(path, size):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        while size > 0:
            n = min(size, 4 * MIB)
            f.write(os.urandom(n))
            size -= n


def small_files(root, count, lo, hi):
    rng = random.Random(6)
    for i in range(count):
        size = rng.randint(lo, hi)
        p = os.path.join(root, f"d{i % 100}", f"f{i}.bin")
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(os.urandom(size))


def copy_into(src, dst):
    """Copies a file or a tree into the folder dst (cp -a keeps it simple and fast)."""
    os.makedirs(dst, exist_ok=True)
    sh(f"cp -a {src} {dst}/")


# ---------------------------------------------------------------- systems

class System:
    """One sync tool. start() brings up its peers on the given hosts with an
    empty folder 'docs' at work/<host>/docs; trigger() tells it that files
    appeared in the folder of `host` (a real sync tool may need nothing)."""
    name = "?"
    workloads = ""
    daemons = []

    def __init__(self, ctx):
        self.ctx = ctx
        self.net = ctx.net

    def folder(self, host):
        return os.path.join(self.ctx.work, host, "docs")

    def start(self, hosts):
        self.hosts = hosts
        for h in hosts:
            os.makedirs(self.folder(h), exist_ok=True)

    def trigger(self, host, paths, meter):
        pass

    def stop(self):
        for d in self.daemons:
            d.stop()
        self.daemons = []


class Harp(System):
    name = "harp"
    workloads = "abcdef"

    def php(self):
        return ["php", "-n", "-d", "extension=posix", "-d", f"extension={self.ctx.harp_so}"]

    def state(self, host):
        return os.path.join(self.ctx.work, host, "state")

    def start(self, hosts):
        super().start(hosts)
        ids = {}
        for h in hosts:
            cli = [*self.php(), f"{ROOT}/bin/harp"]
            ids[h] = sh(" ".join(cli + ["id", "--state-dir", self.state(h)]))
            sh(" ".join(cli + ["folder", "add", "docs", self.folder(h), "--state-dir", self.state(h)]))
        for h in hosts:
            for o in hosts:
                if o != h:
                    # LAN peers find each other by mDNS (that is how Harp knows
                    # they share a site); the cloud is reached at its address.
                    addr = [f"{ADDR[o]}:4433"] if "c" in (h, o) else []
                    sh(" ".join([*self.php(), f"{ROOT}/bin/harp", "trust", ids[o], *addr,
                                 "--state-dir", self.state(h)]))
        self.daemons = []
        for h in hosts:
            d = Daemon(self.net, h, [*self.php(), "-d", "harp.listen=0.0.0.0:4433", "-d", "harp.mdns=1",
                                     f"{ROOT}/bin/harp", "serve", "--quiet", "--state-dir", self.state(h),
                                     "--name", f"bench-{h}"], os.path.join(self.ctx.work, f"harp-{h}.log"))
            self.daemons.append(d)
            wait_until(lambda: "serving" in d.output() or d.p.poll() is not None, 30, f"harp on {h}", 0.05)
            if d.p.poll() is not None:
                raise RuntimeError(f"harp serve on {h} exited: {d.output()}")
        self.ids = ids
        if len(hosts) > 1:
            def connected():
                for h in hosts:
                    up = {p["device_id"] for p in self.ctx.harp_call("peers", self.state(h)) if p["connected"]}
                    if not {ids[o] for o in hosts if o != h} <= up:
                        return False
                return True
            wait_until(connected, 60, "harp nodes to connect", 0.1)

    def trigger(self, host, paths, meter):
        if paths is None:
            self.ctx.harp_call("scan", self.state(host))
        else:
            for p in paths:
                self.ctx.harp_call("notify", self.state(host), p)

    def index(self, host):
        self.ctx.harp_call("scan", self.state(host))


def syncthing_version(binary):
    """('1.19.2', the whole --version line) of a Syncthing binary."""
    line = sh(f"{binary} --version")
    m = re.match(r"syncthing v(\d+(?:\.\d+)+)", line)
    if not m:
        raise RuntimeError(f"{binary} --version: {line!r}")
    return m.group(1), line


class Syncthing(System):
    """Syncthing with discovery, relays, NAT and usage reports off, devices
    and the folder set up through its REST API (on the host's address, which
    the harness reaches through ns_connect). One instance per binary (bench/run
    passes Debian 12's 1.19.2 and Debian 13's 1.29.5) and mode, named after
    both: syncthing-1.19.2-rescan, syncthing-1.29.5-watch. The two versions
    take the same command line, config.xml edits and REST calls; they differ
    in when a connected device is ready (see start)."""
    workloads = "abcdef"

    def __init__(self, ctx, binary, version, watcher):
        super().__init__(ctx)
        self.bin, self.version, self.watcher = binary, version, watcher
        # Since 1.20 a new connection is used only once it is "promoted", about
        # a second after it is made, and only then are the cluster configs
        # exchanged; /rest/system/connections says connected before that. The
        # ClusterConfigReceived event (also new in 1.20) tells when a device
        # is really there. 1.19 exchanges them as soon as it connects.
        self.cc_event = tuple(int(x) for x in version.split(".")[:2]) >= (1, 20)
        self.name = f"syncthing-{version}-{'watch' if watcher else 'rescan'}"
        if watcher:
            self.workloads = "abc"

    def home(self, h):
        return os.path.join(self.ctx.work, h, "st")

    def rest(self, h, method, path, body=None, timeout=60):
        conn = NsHTTP(self.net.ns(h), ADDR[h], 8384, timeout)
        conn.request(method, path, body=None if body is None else json.dumps(body),
                     headers={"X-API-Key": "harp-bench", "Content-Type": "application/json"})
        r = conn.getresponse()
        data = r.read()
        conn.close()
        if r.status >= 300:
            raise RuntimeError(f"syncthing {method} {path}: {r.status} {data[:300]!r}")
        return json.loads(data) if data.strip().startswith((b"{", b"[")) else data

    def configure(self, h):
        home = self.home(h)
        sh(f"{self.bin} generate --home={home} --no-default-folder")
        cfg = open(os.path.join(home, "config.xml")).read()
        opts = {"globalAnnounceEnabled": "false", "localAnnounceEnabled": "false", "relaysEnabled": "false",
                "natEnabled": "false", "urAccepted": "-1", "startBrowser": "false", "autoUpgradeIntervalH": "0",
                "crashReportingEnabled": "false",
                # Normally Syncthing nices itself; on a machine shared with
                # builds that would cost it the comparison, so it runs at
                # the same priority as everything else.
                "setLowPriority": "false"}
        for k, v in opts.items():
            cfg = re.sub(f"<{k}>[^<]*</{k}>", f"<{k}>{v}</{k}>", cfg)
        cfg = re.sub(r"<listenAddress>[^<]*</listenAddress>",
                     "<listenAddress>tcp://0.0.0.0:22000</listenAddress><listenAddress>quic://0.0.0.0:22000</listenAddress>", cfg)
        cfg = re.sub(r"(<gui [^>]*>\s*)<address>[^<]*</address>", rf"\1<address>{ADDR[h]}:8384</address>", cfg)
        cfg = re.sub(r"<apikey>[^<]*</apikey>", "<apikey>harp-bench</apikey>", cfg)
        open(os.path.join(home, "config.xml"), "w").write(cfg)
        return sh(f"{self.bin} serve --home={home} --device-id")

    def start(self, hosts):
        super().start(hosts)
        ids = {h: self.configure(h) for h in hosts}
        self.daemons = []
        for h in hosts:
            self.daemons.append(Daemon(self.net, h, [self.bin, "serve", f"--home={self.home(h)}", "--no-browser",
                                                     "--no-restart", "--no-upgrade", "--no-default-folder"],
                                       os.path.join(self.ctx.work, f"st-{h}.log"),
                                       env={"STNODEFAULTFOLDER": "1", "STNOUPGRADE": "1", "STNORESTART": "1"}))
        for h in hosts:
            def ping(h=h):
                try:
                    return self.rest(h, "GET", "/rest/system/ping", timeout=2) is not None
                except OSError:
                    return False
            wait_until(ping, 60, f"syncthing on {h}", 0.1)
            if self.cc_event:
                self.cluster_configs(h)  # subscribes before any device is added: nothing is missed
        for h in hosts:
            for o in hosts:
                if o != h:
                    self.rest(h, "POST", "/rest/config/devices",
                              {"deviceID": ids[o], "name": o, "addresses": [f"tcp://{ADDR[o]}:22000"]})
            self.rest(h, "POST", "/rest/config/folders", {
                "id": "docs", "label": "docs", "path": self.folder(h), "type": "sendreceive",
                "devices": [{"deviceID": ids[o]} for o in hosts],
                "fsWatcherEnabled": self.watcher, "fsWatcherDelayS": 10, "rescanIntervalS": 3600})
        self.ids = ids

        def ready():
            for h in hosts:
                conns = self.rest(h, "GET", "/rest/system/connections")["connections"]
                if not all(conns.get(ids[o], {}).get("connected") for o in hosts if o != h):
                    return False
                if self.cc_event and not {ids[o] for o in hosts if o != h} <= self.cluster_configs(h):
                    return False
                if self.rest(h, "GET", "/rest/db/status?folder=docs").get("state") != "idle":
                    return False
            return True
        wait_until(ready, 90, "syncthing devices to connect", 0.2)

    def cluster_configs(self, h):
        """The devices that h has received a cluster config from (1.20 and later)."""
        events = self.rest(h, "GET", "/rest/events?events=ClusterConfigReceived&since=0&timeout=0")
        return {e["data"]["device"] for e in events}

    def trigger(self, host, paths, meter):
        if self.watcher:
            return  # what users get: the watcher notices by itself
        if paths is None:
            self.rest(host, "POST", "/rest/db/scan?folder=docs")
        else:
            for p in paths:
                self.rest(host, "POST", f"/rest/db/scan?folder=docs&sub={p}")

    def index(self, host):
        self.rest(host, "POST", "/rest/db/scan?folder=docs", timeout=3600)


LIBC = ctypes.CDLL(None, use_errno=True)


def ns_connect(ns, addr, timeout):
    """A TCP connection made from inside network namespace ns, usable from here.

    setns() moves only the calling thread, so a short-lived thread enters the
    namespace, connects, and hands the socket back; a socket keeps the
    namespace it was made in."""
    out = []

    def work():
        try:
            fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
            if LIBC.setns(fd, 0x40000000) != 0:  # CLONE_NEWNET
                raise OSError(ctypes.get_errno(), "setns")
            os.close(fd)
            out.append(socket.create_connection(addr, timeout))
        except OSError as e:
            out.append(e)
    t = threading.Thread(target=work)
    t.start()
    t.join()
    if isinstance(out[0], Exception):
        raise out[0]
    return out[0]


class NsHTTP(http.client.HTTPConnection):
    """HTTP to a server listening inside a namespace."""

    def __init__(self, ns, host, port, timeout):
        super().__init__(host, port, timeout=timeout)
        self.ns = ns

    def connect(self):
        self.sock = ns_connect(self.ns, (self.host, self.port), self.timeout)


class Rsync(System):
    """rsync -a pushed to an rsync daemon on the receiver, run right after the change."""
    workloads = "abce"

    def __init__(self, ctx, fsync):
        super().__init__(ctx)
        self.fsync = fsync
        self.name = "rsync-fsync" if fsync else "rsync"
        if fsync:
            self.workloads = "ab"

    def start(self, hosts):
        super().start(hosts)
        self.daemons = []
        for h in hosts[1:]:
            conf = os.path.join(self.ctx.work, h, "rsyncd.conf")
            with open(conf, "w") as f:
                f.write(f"use chroot = no\nreverse lookup = no\nuid = root\ngid = root\npid file = {self.ctx.work}/{h}/rsyncd.pid\n"
                        f"[docs]\npath = {self.folder(h)}\nread only = no\n")
            d = Daemon(self.net, h, ["rsync", "--daemon", "--no-detach", f"--config={conf}", "--port=873"],
                       os.path.join(self.ctx.work, f"rsyncd-{h}.log"))
            self.daemons.append(d)
            wait_until(lambda: run_ok(self.net, hosts[0], ["rsync", f"rsync://{ADDR[h]}/"]), 20, "rsyncd", 0.1)

    def trigger(self, host, paths, meter):
        # --ignore-times: workload c rewrites a file with the same size within
        # the same second, which rsync's quick check would otherwise skip.
        args = ["rsync", "-a", "--ignore-times"] + (["--fsync"] if self.fsync else [])
        for h in self.hosts:
            if h != host:
                run_in(self.net, host, args + [f"{self.folder(host)}/", f"rsync://{ADDR[h]}/docs/"], meter)


def run_ok(net, host, args):
    return subprocess.run([*net.enter(host), *args], capture_output=True).returncode == 0


class Sendme(System):
    """sendme (iroh): `sendme send` on the sender prints a ticket, `sendme
    receive` on the receiver fetches it; relays off, so it connects directly."""
    name = "sendme"
    workloads = "ab"

    def trigger(self, host, paths, meter):
        (target,) = paths  # the one top-level file or folder that appeared
        dst = [h for h in self.hosts if h != host][0]
        sender = Daemon(self.net, host, [self.ctx.sendme, "send", "--relay", "disabled",
                                         os.path.join(self.folder(host), target)],
                        os.path.join(self.ctx.work, "sendme-send.log"), cwd=os.path.join(self.ctx.work, host))
        self.daemons = [sender]
        meter.daemons.append(sender)
        meter.cpu0[sender.pid] = 0.0
        ticket = []

        def got_ticket():
            m = re.search(r"sendme receive (\S+)", sender.output())
            if m:
                ticket.append(m.group(1))
            if sender.p.poll() is not None:
                raise RuntimeError(f"sendme send exited: {sender.output()[-2000:]}")
            return bool(ticket)
        wait_until(got_ticket, 600, "sendme's ticket", 0.01)
        run_in(self.net, dst, [self.ctx.sendme, "receive", "--relay", "disabled", ticket[0]], meter,
               cwd=self.folder(dst))
        meter.daemons.remove(sender)
        cpu, hwm, _ = proc_stat(sender.pid)
        meter.cpu_clients += cpu
        meter.peak = max(meter.peak, hwm)


class QuicBare(System):
    """The link's ceiling for one QUIC stream: bench/quic_bare.rs, memory to memory."""
    name = "quic-bare"
    workloads = "a"

    def send(self, size, meter):
        cert = os.path.join(self.ctx.work, "bare.der")
        srv = Daemon(self.net, "b", [self.ctx.quic_bare, "server", f"{LAN['b']}:4555", cert],
                     os.path.join(self.ctx.work, "bare.log"))
        wait_until(lambda: "listening" in srv.output(), 20, "quic-bare server", 0.01)
        out = run_in(self.net, "a", [self.ctx.quic_bare, "client", f"{LAN['b']}:4555", cert, str(size)], meter)
        srv.p.wait(20)
        return json.loads(out.strip().splitlines()[-1])


# ---------------------------------------------------------------- workloads

def expect_tree(src_host_dir, rels):
    return {r: os.path.getsize(os.path.join(src_host_dir, r)) for r in rels}


def complete(folder, want):
    """True when every wanted file is in folder at its final size."""
    for rel, size in want.items():
        try:
            if os.path.getsize(os.path.join(folder, rel)) != size:
                return False
        except OSError:
            return False
    return True


def same_content(a, b, rels):
    return all(sha256(os.path.join(a, r)) == sha256(os.path.join(b, r)) for r in rels)


def transfer(ctx, sys_, data, name):
    """Workloads a and b: data appears on a, time until b has all of it."""
    sys_.start(["a", "b"])
    copy_into(data, sys_.folder("a"))
    rels = list(tree(sys_.folder("a")))
    want = expect_tree(sys_.folder("a"), rels)
    total = sum(want.values())
    wire0 = ctx.net.wire_bytes("b")
    meter = ctx.meter(sys_, name)
    t0 = time.monotonic()
    sys_.trigger("a", [os.path.basename(data)] if not isinstance(sys_, Harp) or name == "a" else None, meter)
    wait_until(lambda: complete(sys_.folder("b"), want), 3600, f"{sys_.name}: {name} on b",
               0.005 if name == "a" else 0.05)
    secs = time.monotonic() - t0
    row = {"seconds": round(secs, 3), "MB_per_s": round(total / secs / 1e6, 1), "bytes": total,
           "files": len(rels), "wire_bytes": ctx.net.wire_bytes("b") - wire0, **meter.stop()}
    row["hash_ok"] = same_content(sys_.folder("a"), sys_.folder("b"), rels)
    return row


def w_a(ctx, sys_):
    if isinstance(sys_, QuicBare):
        meter = Meter([])
        r = sys_.send(ctx.cfg["a_mib"] * MIB, meter)
        return {"seconds": r["seconds"], "MB_per_s": r["MB_per_s"], "bytes": r["bytes"], **meter.stop(),
                "hash_ok": None}
    return transfer(ctx, sys_, ctx.data["a"], "a")


def w_b(ctx, sys_):
    return transfer(ctx, sys_, ctx.data["b"], "b")


def w_c(ctx, sys_):
    """A 4 KiB file rewritten on a; time from the write to b having the new bytes."""
    sys_.start(["a", "b"])
    fa, fb = (os.path.join(sys_.folder(h), "latency.bin") for h in "ab")
    runs = ctx.cfg["c_runs_watch"] if getattr(sys_, "watcher", False) else ctx.cfg["c_runs"]
    meter = ctx.meter(sys_, "c")
    lat = []
    for i in range(runs + 1):  # run 0 creates the file and is not counted
        content = os.urandom(4096)
        t0 = time.monotonic()
        with open(fa, "wb") as f:
            f.write(content)
        sys_.trigger("a", ["latency.bin"], meter)

        def arrived():
            try:
                with open(fb, "rb") as f:
                    return f.read() == content
            except OSError:
                return False
        wait_until(arrived, 120, f"{sys_.name}: the 4 KiB change on b", 0.0005)
        if i:
            lat.append((time.monotonic() - t0) * 1000)
        time.sleep(0.2)
    return {"runs": runs, "p50_ms": round(statistics.median(lat), 2), "min_ms": round(min(lat), 2),
            "max_ms": round(max(lat), 2), "seconds": round(statistics.median(lat) / 1000, 4), **meter.stop()}


def w_d(ctx, sys_):
    """The office: a file appears at the cloud host c; WAN bytes, and when a and b have it."""
    sys_.start(["c", "a", "b"])
    copy_into(ctx.data["d"], sys_.folder("c"))
    rel = os.path.basename(ctx.data["d"])
    want = {rel: os.path.getsize(ctx.data["d"])}
    wan0 = ctx.net.wire_bytes("c")
    meter = ctx.meter(sys_, "d")
    t0 = time.monotonic()
    sys_.trigger("c", [rel], meter)
    done = {}

    def both():
        for h in "ab":
            if h not in done and complete(sys_.folder(h), want):
                done[h] = time.monotonic() - t0
        return len(done) == 2
    wait_until(both, 1800, f"{sys_.name}: the office file on a and b", 0.01)
    wan = ctx.net.wire_bytes("c") - wan0
    row = {"seconds": round(max(done.values()), 2), "a_s": round(done["a"], 2), "b_s": round(done["b"], 2),
           "bytes": want[rel], "wan_bytes": wan, "wan_ratio": round(wan / want[rel], 3), **meter.stop()}
    row["MB_per_s"] = round(want[rel] / row["seconds"] / 1e6, 2)
    row["hash_ok"] = all(same_content(sys_.folder("c"), sys_.folder(h), [rel]) for h in "ab")
    return row


def w_e(ctx, sys_):
    """Delta: 1 MiB inserted in the middle of a synced 512 MiB file."""
    sys_.start(["a", "b"])
    rel = os.path.basename(ctx.data["e"])
    copy_into(ctx.data["e"], sys_.folder("a"))
    meter0 = Meter([])
    sys_.trigger("a", [rel], meter0)
    meter0.stop()
    wait_until(lambda: complete(sys_.folder("b"), {rel: os.path.getsize(ctx.data["e"])}), 1800,
               f"{sys_.name}: the first sync of the delta file", 0.02)
    time.sleep(1)
    # The edit: the file rewritten in place with 1 MiB inserted in its middle.
    shutil.copyfile(ctx.data["e2"], os.path.join(sys_.folder("a"), rel))
    want = {rel: os.path.getsize(ctx.data["e2"])}
    wire0 = ctx.net.wire_bytes("b")
    meter = ctx.meter(sys_, "e")
    t0 = time.monotonic()
    sys_.trigger("a", [rel], meter)

    def done():
        return complete(sys_.folder("b"), want) and sha256(os.path.join(sys_.folder("b"), rel)) == ctx.e2_hash
    wait_until(lambda: complete(sys_.folder("b"), want), 1800, f"{sys_.name}: the edit on b", 0.005)
    secs = time.monotonic() - t0
    wait_until(done, 60, f"{sys_.name}: the edited content on b", 0.2)
    return {"seconds": round(secs, 3), "bytes": want[rel], "wire_bytes": ctx.net.wire_bytes("b") - wire0,
            "hash_ok": True, **meter.stop()}


def w_f(ctx, sys_):
    """Idle: one node with the 100,000-file folder indexed; RSS and CPU while nothing happens."""
    sys_.start(["a"])
    copy_into(ctx.data["f"], sys_.folder("a"))
    t0 = time.monotonic()
    sys_.index("a")
    if isinstance(sys_, Syncthing):
        def indexed():
            st = sys_.rest("a", "GET", "/rest/db/status?folder=docs")
            return st.get("state") == "idle" and st.get("localFiles", 0) >= ctx.cfg["f_files"]
        wait_until(indexed, 3600, "syncthing to index the folder", 0.5)
    index_s = time.monotonic() - t0
    time.sleep(min(5, ctx.cfg["f_idle_s"]))
    (d,) = sys_.daemons
    cpu0 = tree_stat(d.pid)[0]
    meter = ctx.meter(sys_, "f")  # only for --profile: the idle window's figures are read here
    time.sleep(ctx.cfg["f_idle_s"])
    meter.stop()
    cpu, hwm, rss = tree_stat(d.pid)
    # Where the memory is: anonymous (heap, caches) or file-backed (binary, mapped files).
    worker = max([d.pid] + descendants(d.pid), key=lambda p: proc_stat(p)[2])
    with open(f"/proc/{worker}/status") as f:
        st = f.read()
    anon, fileb = (int(re.search(rf"{k}:\s+(\d+)", st).group(1)) / 1024 for k in ("RssAnon", "RssFile"))
    return {"files": ctx.cfg["f_files"], "index_s": round(index_s, 2), "idle_s": ctx.cfg["f_idle_s"],
            "idle_cpu_s": round(cpu - cpu0, 3), "rss_mb": round(rss, 1), "rss_anon_mb": round(anon, 1),
            "rss_file_mb": round(fileb, 1), "peak_rss_mb": round(hwm, 1), "cpu_s": round(cpu, 2),
            "seconds": round(index_s, 2)}


WORKLOADS = {"a": w_a, "b": w_b, "c": w_c, "d": w_d, "e": w_e, "f": w_f}


# ---------------------------------------------------------------- the run

class Ctx:
    pass


def make_data(ctx):
    c, d = ctx.cfg, os.path.join(ctx.work, "data")
    log(f"generating data in {d}")
    ctx.data = {"a": f"{d}/a/big.bin", "b": f"{d}/b/small", "d": f"{d}/d/office.bin",
                "e": f"{d}/e/delta.bin", "e2": f"{d}/e2/delta.bin", "f": f"{d}/f/idle"}
    random_file(ctx.data["a"], c["a_mib"] * MIB)
    small_files(ctx.data["b"], c["b_files"], 1024, 64 * 1024)
    random_file(ctx.data["d"], c["d_mib"] * MIB)
    random_file(ctx.data["e"], c["e_mib"] * MIB)
    half = c["e_mib"] * MIB // 2
    os.makedirs(os.path.dirname(ctx.data["e2"]), exist_ok=True)
    with open(ctx.data["e"], "rb") as src, open(ctx.data["e2"], "wb") as dst:
        dst.write(src.read(half))
        dst.write(os.urandom(c["e_insert_mib"] * MIB))
        dst.write(src.read())
    ctx.e2_hash = sha256(ctx.data["e2"])
    small_files(ctx.data["f"], c["f_files"], 1024, 4096)


def versions(ctx):
    v = {"harp": sh(f"php -n -d extension={ctx.harp_so} -r 'echo phpversion(\"harp\");'") + " (git "
         + sh(f"git -C {ROOT} rev-parse --short HEAD") + ")",
         **{f"syncthing {s['version']}": f"{s['line']} ({s['binary']})" for s in ctx.syncthings},
         "rsync": sh("rsync --version").splitlines()[0],
         "sendme": sh(f"{ctx.sendme} --version") if ctx.sendme else "not installed",
         "quinn (quic-bare)": sh(f"grep -A1 '^name = \"quinn\"' {ROOT}/Cargo.lock | tail -1")}
    return v


def loadavg():
    """/proc/loadavg's 1, 5 and 15 minute figures: how busy the machine was."""
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def selected(name, wanted):
    """--systems: a name, a shell pattern (syncthing-*-rescan), or a name
    without its version (syncthing-rescan: every version's)."""
    unversioned = re.sub(r"-\d+(\.\d+)+-", "-", name)
    return any(name == w or unversioned == w or fnmatch.fnmatchcase(name, w) for w in wanted)


def machine():
    cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
    mem = int(sh("grep MemTotal /proc/meminfo | awk '{print $2}'")) // (1024 * 1024)
    osr = sh(". /etc/os-release && echo $PRETTY_NAME")
    return f"{os.cpu_count()} cores ({cpu}), {mem} GiB RAM, {osr}, Linux {platform.release()}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a few MiB, one round: a smoke test of the harness")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--workloads", default="abcdef")
    ap.add_argument("--systems", default="", help="comma-separated names (default: all)")
    ap.add_argument("--harp-so", required=True)
    ap.add_argument("--quic-bare", required=True)
    ap.add_argument("--sendme", default="")
    ap.add_argument("--syncthing", action="append", metavar="BINARY",
                    help="a Syncthing binary to measure; repeat for several versions (default: syncthing)")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    ap.add_argument("--profile", default="", help="systems to profile with perf record (e.g. harp); "
                    "the reports land beside raw.json as profile-<round>-<workload>-<system>.txt")
    args = ap.parse_args()

    ctx = Ctx()
    ctx.cfg = dict(QUICK if args.quick else FULL)
    if args.rounds:
        ctx.cfg["rounds"] = args.rounds
    report.set_titles(ctx.cfg)
    ctx.harp_so, ctx.quic_bare, ctx.sendme = args.harp_so, args.quic_bare, args.sendme
    ctx.syncthings = []
    for binary in args.syncthing or ["syncthing"]:
        version, line = syncthing_version(binary)
        ctx.syncthings.append({"version": version, "binary": binary, "line": line})
    load_start = loadavg()
    ctx.net = Net()
    base = f"/tmp/{TAG}"  # short: Unix socket paths are limited to 107 bytes
    started = time.time()
    stamp = datetime.datetime.now().strftime("%Y-%m-%d-%H%M%S")
    out = os.path.join(args.out, stamp + ("-quick" if args.quick else ""))
    os.makedirs(out, exist_ok=True)
    ctx.round = 0

    def meter(system, w):
        if system.name not in args.profile.split(","):
            return Meter(system.daemons)
        return Meter(system.daemons, os.path.join(out, f"profile-{ctx.round}-{w}-{system.name}"))
    ctx.meter = meter
    helper = None

    def cleanup(*_):
        if helper and helper.poll() is None:
            helper.kill()
        for s in all_systems:
            try:
                s.stop()
            except Exception:
                pass
        ctx.net.down()
        shutil.rmtree(base, ignore_errors=True)
    all_systems = []
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        ctx.net.up()
        ctx.work = base
        os.makedirs(base)
        make_data(ctx)
        helper = subprocess.Popen(["php", "-n", "-d", "extension=posix", "-d", f"extension={ctx.harp_so}",
                                   f"{ROOT}/bench/harp_client.php"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, bufsize=1)

        def harp_call(op, state, path=None):
            helper.stdin.write(json.dumps({"op": op, "state": state, "folder": "docs", "path": path}) + "\n")
            helper.stdin.flush()
            r = json.loads(helper.stdout.readline())
            if not r["ok"]:
                raise RuntimeError(f"harp {op}: {r['error']}")
            return r["result"]
        ctx.harp_call = harp_call

        skipped = {}
        all_systems.append(Harp(ctx))
        for i, st in enumerate(ctx.syncthings):
            all_systems.append(Syncthing(ctx, st["binary"], st["version"], False))
            if i and args.quick:
                # A smoke test: the later versions run the paths that differ
                # between versions (two hosts, three, a whole-folder index) in
                # about 15 s; the rest, and the watcher (~10 s a workload),
                # is the same code as the first version's.
                all_systems[-1].workloads = "adf"
                skipped[f"syncthing-{st['version']}-watch"] = "--quick runs the watcher for the first version only"
                skipped[f"syncthing-{st['version']}-rescan"] = "--quick runs it on workloads a, d and f only"
            else:
                all_systems.append(Syncthing(ctx, st["binary"], st["version"], True))
        all_systems += [Rsync(ctx, False), Rsync(ctx, True), QuicBare(ctx)]
        if ctx.sendme:
            all_systems.append(Sendme(ctx))
        else:
            skipped["sendme"] = "not installed (bench/run installs it in a full run: cargo install sendme)"
        if args.systems:
            all_systems = [s for s in all_systems if selected(s.name, args.systems.split(","))]
        rows = []
        for rnd in range(1, ctx.cfg["rounds"] + 1):
            ctx.round = rnd
            for w in args.workloads:
                order = [s for s in all_systems if w in s.workloads]
                k = (rnd - 1) % max(1, len(order))
                order = order[k:] + order[:k]  # rotate: no system always goes first
                for s in order:
                    ctx.work = os.path.join(base, f"r{rnd}-{w}-{s.name}")
                    os.makedirs(ctx.work)
                    log(f"round {rnd}/{ctx.cfg['rounds']}  {report.TITLES[w]}  {s.name}")
                    try:
                        row = WORKLOADS[w](ctx, s)
                    except Exception as e:  # one failure does not end the run: it is reported
                        row = {"error": f"{type(e).__name__}: {e}"}
                        for d in s.daemons:
                            print(f"--- {d.log}\n{d.output()[-1500:]}", file=sys.stderr)
                    finally:
                        s.stop()
                        shutil.rmtree(ctx.work, ignore_errors=True)
                    row = {"round": rnd, "workload": w, "system": s.name, **row}
                    print("   ", json.dumps(row), flush=True)
                    rows.append(row)
        raw = {"date": stamp, "quick": args.quick, "config": ctx.cfg, "machine": machine(),
               "versions": versions(ctx), "syncthing": ctx.syncthings, "skipped": skipped, "rows": rows,
               "duration_s": round(time.time() - started, 1), "loadavg": {"start": load_start, "end": loadavg()}}
        with open(os.path.join(out, "raw.json"), "w") as f:
            json.dump(raw, f, indent=1)
        text = report.summary(raw)
        with open(os.path.join(out, "summary.md"), "w") as f:
            f.write(text)
        chart = report.chart(raw, os.path.join(out, "ratios.png"))
        print(text)
        print(f"results: {out}" + ("" if chart else " (no chart: matplotlib is missing)"))
        failed = [r for r in rows if "error" in r or r.get("hash_ok") is False]
        return 1 if failed else 0
    finally:
        cleanup()


if __name__ == "__main__":
    sys.exit(main())
