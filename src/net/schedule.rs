//! The request scheduler: which connected peer to ask for a chunk or a
//! manifest, and when to ask a second one.
//!
//! Every peer gets a running estimate of its throughput, measured while it
//! has requests in flight (bytes answered over busy time, smoothed), and
//! quinn's RTT. The expected time for a new request of `len` bytes is
//! `rtt + (bytes already queued at that peer + len) / throughput`; peers are
//! tried in that order. A request that has not been answered after a few
//! times its expected time is *hedged*: the next peer is asked as well, the
//! first answer wins and the other request is cancelled (its stream is
//! dropped, which resets it on the wire). So a slow peer never holds a
//! transfer back while a faster one has the bytes.
//!
//! Each peer is given only about QUEUE_TIME worth of its throughput in
//! requests at once (at least MIN_BUDGET): enough to keep its link busy,
//! little enough that a slow link holds few bytes in flight (bytes that a
//! crash would waste) and that a faster peer gets the rest.
//!
//! The scheduler knows nothing of sites or the WAN rule; the applier hands
//! it the candidates it may ask (LAN peers first, the WAN only when the
//! site rule allows).
//!
//! A peer whose answer does not match its hash (or announces more bytes
//! than the request can need) is not asked anything for a while: 1 s after
//! the first bad answer, doubling with each further one up to 60 s, and
//! forgotten at its first good answer. Without it, a peer serving garbage
//! for a file nobody else has was asked again some 70 times a second.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::task::JoinSet;

use super::{ask, Net, Reply, Request, Source};
use crate::error::{HarpError, Result};
use crate::identity::DeviceId;

/// Throughput assumed for a peer before anything was measured (100 Mbit/s).
const PRIOR_RATE: f64 = 12.5e6;
/// Weight of a new throughput sample in the running estimate.
const SMOOTHING: f64 = 0.3;
/// A busy period shorter than this gives no throughput sample (too noisy).
const MIN_SAMPLE: Duration = Duration::from_millis(20);
/// A request waits at least this long before it is hedged.
const MIN_HEDGE: Duration = Duration::from_millis(150);
/// How many expected times a request waits before it is hedged.
const HEDGE_FACTOR: u32 = 4;
/// How much of a peer's measured throughput may wait in its queue.
const QUEUE_TIME: Duration = Duration::from_millis(100);
/// A peer's queue may always hold this many bytes.
const MIN_BUDGET: u64 = 256 * 1024;
/// How long one request may take before it counts as failed (a peer that
/// vanished without closing its connection never answers).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// A peer's first bad answer keeps it from being asked for this long ...
pub const MIN_BACKOFF: Duration = Duration::from_secs(1);
/// ... doubling with every further one, up to this.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// What the scheduler knows of one peer.
#[derive(Debug, Clone)]
struct PeerStats {
    /// Smoothed throughput in bytes per second.
    rate: f64,
    /// Requests in flight.
    inflight: u32,
    /// Bytes asked for and not answered yet.
    queued: u64,
    /// Start of the current busy window, while requests are in flight.
    window_start: Option<Instant>,
    /// Bytes answered in the current busy window.
    window_bytes: u64,
    /// After bad answers: the current back-off, and until when the peer
    /// is not asked.
    backoff: Duration,
    shunned_until: Option<Instant>,
}

impl Default for PeerStats {
    fn default() -> Self {
        PeerStats {
            rate: PRIOR_RATE,
            inflight: 0,
            queued: 0,
            window_start: None,
            window_bytes: 0,
            backoff: Duration::ZERO,
            shunned_until: None,
        }
    }
}

impl PeerStats {
    /// Whether the peer is backed off at `now`.
    fn shunned(&self, now: Instant) -> bool {
        self.shunned_until.is_some_and(|t| now < t)
    }

    /// A bad answer: backs the peer off, doubling the back-off, unless it
    /// is backed off already (answers to requests sent before the first
    /// bad one arrive together and count once). Returns the back-off.
    fn bad_answer(&mut self, now: Instant) -> Duration {
        if !self.shunned(now) {
            self.backoff = (self.backoff * 2).clamp(MIN_BACKOFF, MAX_BACKOFF);
            self.shunned_until = Some(now + self.backoff);
        }
        self.backoff
    }

    /// A good answer: the back-off is forgotten.
    fn good_answer(&mut self) {
        self.backoff = Duration::ZERO;
        self.shunned_until = None;
    }
}

/// Chooses peers for requests and measures them.
pub struct Scheduler {
    stats: Mutex<HashMap<DeviceId, PeerStats>>,
    /// Signalled whenever a request ends and frees room in a queue.
    freed: tokio::sync::Notify,
    /// Where a peer's wrong answers are counted (see `Net::refuse`).
    net: Arc<Net>,
}

impl Scheduler {
    /// A scheduler that knows nothing yet and counts peers' wrong answers
    /// in `net`'s peers.
    pub fn new(net: Arc<Net>) -> Arc<Scheduler> {
        Arc::new(Scheduler {
            stats: Mutex::new(HashMap::new()),
            freed: tokio::sync::Notify::new(),
            net,
        })
    }

    /// Counts and logs a bad answer, and backs the peer off.
    fn refuse(&self, device: &DeviceId, what: &str) {
        let backoff = self
            .stats
            .lock()
            .entry(*device)
            .or_default()
            .bad_answer(Instant::now());
        self.net.refuse(
            device,
            &format!("{what}; not asked again for {} s", backoff.as_secs()),
        );
    }

    /// Whether `device` is backed off after bad answers.
    pub fn shunned(&self, device: &DeviceId) -> bool {
        self.stats
            .lock()
            .get(device)
            .is_some_and(|s| s.shunned(Instant::now()))
    }

    /// The expected time for `peer` to answer a request of `len` bytes.
    pub fn expected(&self, peer: &Source, len: u64) -> Duration {
        let stats = self.stats.lock();
        let s = stats.get(&peer.device).cloned().unwrap_or_default();
        expected_time(peer.conn.rtt(), s.queued, s.rate, len)
    }

    /// `candidates` sorted by expected time for `len` bytes, best first.
    pub fn rank(&self, mut candidates: Vec<Source>, len: u64) -> Vec<Source> {
        let stats = self.stats.lock();
        candidates.sort_by_cached_key(|c| {
            let s = stats.get(&c.device).cloned().unwrap_or_default();
            expected_time(c.conn.rtt(), s.queued, s.rate, len)
        });
        candidates
    }

    /// Asks the best of `candidates` for `req` (about `len` bytes), hedging
    /// to the next one when an answer is late, and moving on when a peer
    /// does not have it or fails. `len` is the answer's size (a chunk) or
    /// the most it can be (a manifest): a longer answer is refused unread.
    /// Returns the first answer that `accept` takes, with the peer that
    /// sent it; None when no candidate has it. A peer whose answer `accept`
    /// refuses (bytes that do not match their hash) is counted and logged.
    /// Requests still running when this returns are cancelled.
    pub async fn fetch(
        self: &Arc<Self>,
        candidates: Vec<Source>,
        req: &Request,
        len: u64,
        accept: impl Fn(&[u8]) -> bool,
    ) -> Option<(Vec<u8>, DeviceId)> {
        // Peers backed off after bad answers are not asked.
        let mut left: Vec<Source> = candidates
            .into_iter()
            .filter(|c| !self.shunned(&c.device))
            .collect();
        let mut running: JoinSet<(DeviceId, Result<Reply>)> = JoinSet::new();
        let mut hedge_at = Instant::now();
        loop {
            // Start the best remaining candidate that has room when nothing
            // runs, or when the running ones are late.
            if !left.is_empty() && (running.is_empty() || Instant::now() >= hedge_at) {
                // One may have been backed off since (by another fetch).
                left.retain(|c| !self.shunned(&c.device));
                left = self.rank(left, len);
                match left.iter().position(|c| self.has_room(c, len)) {
                    Some(i) => {
                        let peer = left.remove(i);
                        let wait = self.expected(&peer, len) * HEDGE_FACTOR;
                        hedge_at = Instant::now() + wait.max(MIN_HEDGE);
                        let me = self.clone();
                        let req = req.clone();
                        running.spawn(async move {
                            let device = peer.device;
                            (device, me.ask_one(&peer, &req, len).await)
                        });
                    }
                    None if running.is_empty() => {
                        // Every queue is full: wait for room.
                        let room = self.freed.notified();
                        let _ = tokio::time::timeout(Duration::from_millis(50), room).await;
                        continue;
                    }
                    None => hedge_at = Instant::now() + MIN_HEDGE,
                }
            }
            if running.is_empty() {
                return None;
            }
            let hedge = tokio::time::sleep_until(hedge_at.into());
            tokio::select! {
                done = running.join_next() => match done {
                    Some(Ok((device, Ok(Reply::Found(bytes))))) => {
                        if accept(&bytes) {
                            if let Some(s) = self.stats.lock().get_mut(&device) {
                                s.good_answer();
                            }
                            return Some((bytes, device));
                        }
                        self.refuse(&device, &format!(
                            "answered {} with {} bytes that do not match its hash; ignored",
                            req.describe(),
                            bytes.len()
                        ));
                    }
                    Some(Ok((device, Ok(Reply::TooLarge(n))))) => {
                        self.refuse(&device, &format!(
                            "announced {n} bytes for {}, which needs at most {len}; not read",
                            req.describe()
                        ));
                    }
                    Some(Ok((_, Ok(Reply::NotHeld)))) => {}
                    Some(Ok((device, Err(e)))) => {
                        crate::owner::warn(&format!("asking {}: {e}", device.short()));
                    }
                    Some(Err(_)) | None => {}
                },
                _ = hedge, if !left.is_empty() => {}
            }
        }
    }

    /// Whether `peer`'s queue has room for `len` more bytes: an idle peer
    /// always has.
    fn has_room(&self, peer: &Source, len: u64) -> bool {
        let stats = self.stats.lock();
        match stats.get(&peer.device) {
            None => true,
            Some(s) => s.inflight == 0 || s.queued + len <= budget(s.rate),
        }
    }

    /// One request to one peer, counted in its figures.
    async fn ask_one(&self, peer: &Source, req: &Request, len: u64) -> Result<Reply> {
        let _counted = InFlight::start(self, peer.device, len);
        let max = usize::try_from(len).unwrap_or(usize::MAX);
        let answer = match tokio::time::timeout(REQUEST_TIMEOUT, ask(&peer.conn, req, max)).await {
            Ok(r) => r,
            Err(_) => Err(HarpError::Protocol(format!(
                "no answer within {} s",
                REQUEST_TIMEOUT.as_secs()
            ))),
        };
        if let Ok(Reply::Found(bytes)) = &answer {
            self.answered(peer.device, bytes.len() as u64);
        }
        answer
    }

    /// Counts answered bytes into the peer's busy window, and takes a
    /// throughput sample when the window is long enough.
    fn answered(&self, device: DeviceId, bytes: u64) {
        let mut stats = self.stats.lock();
        let s = stats.entry(device).or_default();
        s.window_bytes += bytes;
        if let Some(start) = s.window_start {
            let busy = start.elapsed();
            if busy >= MIN_SAMPLE {
                let sample = s.window_bytes as f64 / busy.as_secs_f64();
                s.rate = s.rate * (1.0 - SMOOTHING) + sample * SMOOTHING;
                s.window_start = Some(Instant::now());
                s.window_bytes = 0;
            }
        }
    }
}

/// The bytes a peer measured at `rate` may have queued.
fn budget(rate: f64) -> u64 {
    ((rate * QUEUE_TIME.as_secs_f64()) as u64).max(MIN_BUDGET)
}

/// rtt + (queued + len) / rate.
fn expected_time(rtt: Duration, queued: u64, rate: f64, len: u64) -> Duration {
    let transfer = (queued + len) as f64 / rate.max(1.0);
    rtt + Duration::from_secs_f64(transfer.min(3600.0))
}

/// Marks a request in flight for as long as it lives, even when it is
/// cancelled (dropped) half-way.
struct InFlight<'a> {
    scheduler: &'a Scheduler,
    device: DeviceId,
    len: u64,
}

impl<'a> InFlight<'a> {
    fn start(scheduler: &'a Scheduler, device: DeviceId, len: u64) -> InFlight<'a> {
        let mut stats = scheduler.stats.lock();
        let s = stats.entry(device).or_default();
        if s.inflight == 0 {
            s.window_start = Some(Instant::now());
            s.window_bytes = 0;
        }
        s.inflight += 1;
        s.queued += len;
        InFlight {
            scheduler,
            device,
            len,
        }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut stats = self.scheduler.stats.lock();
        if let Some(s) = stats.get_mut(&self.device) {
            s.inflight = s.inflight.saturating_sub(1);
            s.queued = s.queued.saturating_sub(self.len);
            if s.inflight == 0 {
                s.window_start = None;
            }
        }
        drop(stats);
        self.scheduler.freed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fast_far_peer_loses_to_a_near_one_until_the_near_one_is_busy() {
        let lan = Duration::from_micros(300);
        let wan = Duration::from_millis(40);
        let chunk = 64 * 1024;
        // Idle: the LAN peer (fast, near) is expected sooner.
        assert!(expected_time(lan, 0, 100e6, chunk) < expected_time(wan, 0, 1.25e6, chunk));
        // A LAN peer with 64 MB queued is slower than an idle WAN peer.
        assert!(expected_time(lan, 64 << 20, 100e6, chunk) > expected_time(wan, 0, 1.25e6, chunk));
    }

    #[test]
    fn a_slow_link_gets_a_small_queue_and_a_fast_one_a_deep_one() {
        // 10 Mbit/s: the minimum, a few chunks.
        assert_eq!(budget(1.25e6), MIN_BUDGET);
        // 1 Gbit/s: 100 ms of it.
        assert_eq!(budget(125e6), 12_500_000);
    }

    #[test]
    fn a_peer_with_bad_answers_is_backed_off_doubling_to_a_minute_until_a_good_one() {
        let mut s = PeerStats::default();
        let t0 = Instant::now();
        assert!(!s.shunned(t0));
        assert_eq!(s.bad_answer(t0), MIN_BACKOFF);
        assert!(s.shunned(t0 + Duration::from_millis(999)));
        // Answers to requests sent before it was backed off count once.
        assert_eq!(s.bad_answer(t0 + Duration::from_millis(10)), MIN_BACKOFF);
        assert!(!s.shunned(t0 + MIN_BACKOFF));
        let mut now = t0 + MIN_BACKOFF;
        let mut seen = Vec::new();
        for _ in 0..8 {
            let b = s.bad_answer(now);
            seen.push(b.as_secs());
            now += b;
        }
        assert_eq!(seen, [2, 4, 8, 16, 32, 60, 60, 60]);
        s.good_answer();
        assert!(!s.shunned(now - Duration::from_secs(1)));
        assert_eq!(s.bad_answer(now), MIN_BACKOFF, "a good answer starts over");
    }

    #[test]
    fn expected_time_grows_with_what_is_queued() {
        let rtt = Duration::from_millis(1);
        let a = expected_time(rtt, 0, 10e6, 1 << 20);
        let b = expected_time(rtt, 10 << 20, 10e6, 1 << 20);
        assert!(b > a * 5, "{a:?} vs {b:?}");
        // A zero rate does not divide by zero and stays bounded.
        assert!(expected_time(rtt, 0, 0.0, 1 << 20) <= rtt + Duration::from_secs(3600));
    }
}
