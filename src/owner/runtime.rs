//! The runtime thread: a tokio runtime that serves the control socket and
//! takes notifications from the outbox. Everything here runs off the PHP
//! thread; it reaches PHP only through `Shared`.

use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::watch::DirWatch;
use super::{warn, Shared};
use crate::control::{self, Op, SOCKET_FILE};
use crate::error::{panic_message, HarpError, Result};
use crate::net;

/// How often intake looks at the outbox without being woken.
const INTAKE_TICK: Duration = Duration::from_secs(1);
/// A client that sends half a frame is dropped after this long.
const FRAME_TIMEOUT: Duration = Duration::from_secs(10);

/// Body of the runtime thread. Never unwinds: a panic anywhere in it is
/// caught here and left in `shared.crashed` for the PHP thread.
pub(super) fn run(
    shared: Arc<Shared>,
    ready: std::sync::mpsc::Sender<Result<()>>,
    stop: watch::Receiver<bool>,
) {
    let s = shared.clone();
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(move || -> Result<()> {
        crate::error::debug_panic_point("runtime.thread");
        let built = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .max_blocking_threads(4)
            .thread_name("harp-rt")
            .enable_all()
            .build();
        let rt = match built {
            Ok(rt) => rt,
            // Out of file descriptors, say: the caller's error, not a crash.
            Err(e) => {
                let _ = ready.send(Err(HarpError::io("starting the node's runtime", &e)));
                return Ok(());
            }
        };
        let result = rt.block_on(serve(s, ready, stop));
        rt.shutdown_timeout(Duration::from_secs(5));
        result
    }));
    *shared.started.lock() = None;
    let failure = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(HarpError::Internal(m))) => Some(m),
        Ok(Err(e)) => Some(e.to_string()),
        Err(p) => Some(format!("panic: {}", panic_message(p.as_ref()))),
    };
    if let Some(msg) = failure {
        *shared.crashed.lock() = Some(msg.clone());
        warn(&format!("the runtime stopped: {msg}"));
    }
}

async fn serve(
    shared: Arc<Shared>,
    ready: std::sync::mpsc::Sender<Result<()>>,
    mut stop: watch::Receiver<bool>,
) -> Result<()> {
    let listener = match bind(&shared) {
        Ok(l) => l,
        Err(e) => {
            let _ = ready.send(Err(e));
            return Ok(());
        }
    };
    let dir_watch = match DirWatch::new(&shared.dir) {
        Ok(w) => w,
        Err(e) => {
            let _ = ready.send(Err(e));
            return Ok(());
        }
    };
    let endpoint = match quic_endpoint(&shared) {
        Ok(ep) => ep,
        Err(e) => {
            let _ = std::fs::remove_file(shared.dir.join(SOCKET_FILE));
            let _ = ready.send(Err(e));
            return Ok(());
        }
    };
    *shared.bound.lock() = endpoint.local_addr().ok();
    *shared.started.lock() = Some(Instant::now());
    let _ = ready.send(Ok(()));

    let listener_fd = listener.as_raw_fd();
    let mut tasks: JoinSet<Result<()>> = JoinSet::new();
    tasks.spawn(intake_loop(shared.clone(), dir_watch));
    tasks.spawn(accept_loop(shared.clone(), listener));
    let runner = Arc::new(net::Runner {
        net: shared.net.clone(),
        identity: shared.identity.clone(),
        name: shared.config.name.clone(),
        me: shared.device_id,
        ledger: shared.clone(),
        pushes: shared.pushes.clone(),
        scheduler: net::schedule::Scheduler::new(shared.net.clone()),
        handshake_refusals: Default::default(),
    });
    let events = shared.clone();
    let on_change: net::OnChange = Arc::new(move |kind, device| {
        events.push_event(super::Event {
            kind: kind.into(),
            folder: None,
            path: None,
            device: Some(device.to_string()),
            hash: None,
            seq: None,
            time_ms: super::now_ms(),
        });
    });
    let _discovery = match (shared.config.mdns, endpoint.local_addr()) {
        (true, Ok(addr)) => match crate::discovery::Discovery::start(
            shared.net.clone(),
            shared.device_id,
            &shared.config.name,
            addr.port(),
        ) {
            Ok(d) => Some(d),
            Err(e) => {
                // The node still works with static addresses.
                shared.set_error(&e);
                None
            }
        },
        _ => None,
    };
    tasks.spawn(runner.clone().accept(endpoint.clone(), on_change.clone()));
    tasks.spawn(runner.clone().dial(endpoint.clone(), on_change));
    tasks.spawn(super::apply::apply_loop(shared.clone(), runner));

    let outcome = tokio::select! {
        _ = stop.wait_for(|s| *s) => Ok(()),
        Some(done) = tasks.join_next() => match done {
            Ok(Ok(())) => Err(HarpError::Internal("a runtime task ended early".into())),
            Ok(Err(e)) => Err(e),
            Err(e) if e.is_panic() => Err(HarpError::Internal(format!(
                "panic: {}",
                panic_message(e.into_panic().as_ref())
            ))),
            Err(e) => Err(HarpError::Internal(format!("runtime task failed: {e}"))),
        },
    };
    super::forksafe::forget(listener_fd);
    tasks.abort_all();
    endpoint.close(quinn::VarInt::from_u32(0), b"stopping");
    let _ = tokio::time::timeout(Duration::from_secs(2), endpoint.wait_idle()).await;
    *shared.bound.lock() = None;
    for p in shared.net.peers.lock().values_mut() {
        p.conn = None;
    }
    let _ = std::fs::remove_file(shared.dir.join(SOCKET_FILE));
    if outcome.is_ok() {
        // A clean stop takes what waits, so nothing sits in the outbox
        // until the next start.
        let s = shared.clone();
        if let Ok(Err(e)) = tokio::task::spawn_blocking(move || s.intake()).await {
            shared.set_error(&e);
        }
    }
    outcome
}

/// The QUIC endpoint on the configured address.
fn quic_endpoint(shared: &Shared) -> Result<quinn::Endpoint> {
    let addr: std::net::SocketAddr = shared.config.listen.parse().map_err(|_| {
        HarpError::Config(format!(
            "listen address {:?} is not IP:port",
            shared.config.listen
        ))
    })?;
    let cfg = net::tls::server_config(&shared.identity, shared.net.trusted.clone())?;
    quinn::Endpoint::server(cfg, addr).map_err(|e| {
        if matches!(e.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE)) {
            return HarpError::io(&format!("opening the QUIC endpoint on {addr}"), &e);
        }
        HarpError::Config(format!(
            "cannot listen on {addr} (UDP): {e}; choose another port with the 'listen' option or harp.listen"
        ))
    })
}

fn bind(shared: &Shared) -> Result<UnixListener> {
    let path = shared.dir.join(SOCKET_FILE);
    // We hold the owner lock, so a socket file left here is from an owner
    // that died: remove it.
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(HarpError::storage(
                format!("removing {}", path.display()),
                e,
            ))
        }
    }
    let listener = UnixListener::bind(&path).map_err(|e| {
        if path.as_os_str().len() >= 108 {
            HarpError::Config(format!(
                "the state directory path is too long for a Unix socket ({} bytes; the limit is 107): choose a shorter state directory",
                path.as_os_str().len()
            ))
        } else {
            HarpError::storage(format!("listening on {}", path.display()), e)
        }
    })?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o660))
        .map_err(|e| HarpError::storage(format!("chmod {}", path.display()), e))?;
    super::forksafe::register(listener.as_raw_fd());
    Ok(listener)
}

async fn intake_loop(shared: Arc<Shared>, dir_watch: DirWatch) -> Result<()> {
    // The error intake keeps meeting, reported once and shown by status()
    // as `last_error` until intake succeeds again.
    let mut failing: Option<String> = None;
    loop {
        let s = shared.clone();
        match tokio::task::spawn_blocking(move || s.intake()).await {
            Ok(Ok(_)) => {
                if let Some(msg) = failing.take() {
                    shared.clear_error(&msg);
                    warn("intake works again: the changes that waited in the outbox are recorded");
                }
            }
            // Storage trouble (a full disk, say) is reported and retried on
            // the next wake-up or tick; nothing was taken, so nothing is lost.
            Ok(Err(e)) => {
                let msg = e.to_string();
                if failing.as_deref() != Some(msg.as_str()) {
                    shared.set_error(&e);
                    failing = Some(msg);
                }
            }
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => return Err(HarpError::Internal(format!("intake task failed: {e}"))),
        }
        tokio::select! {
            r = dir_watch.changed() => r?,
            _ = tokio::time::sleep(INTAKE_TICK) => {
                let s = shared.clone();
                match tokio::task::spawn_blocking(move || s.retire_outbox()).await {
                    Ok(Err(e)) => shared.set_error(&e),
                    Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                    _ => {}
                }
            }
        }
    }
}

/// Most control connections served at once; more wait in the backlog.
const MAX_CLIENTS: usize = 256;
/// A control connection with no request for this long is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

async fn accept_loop(shared: Arc<Shared>, listener: UnixListener) -> Result<()> {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CLIENTS));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return Ok(());
        };
        match listener.accept().await {
            Ok((stream, _)) => {
                let s = shared.clone();
                tokio::spawn(async move {
                    serve_client(s, stream).await;
                    drop(permit);
                });
            }
            Err(e) => {
                // EMFILE and friends: report, back off, carry on.
                warn(&format!("control socket accept failed: {e}"));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Serves one client connection: request frames in, response frames out,
/// until the client closes or sends something malformed. Each request is
/// checked against who is asking (`SO_PEERCRED`, read once: the kernel
/// records the caller's credentials when it connects).
async fn serve_client(shared: Arc<Shared>, mut stream: UnixStream) {
    let caller = stream.peer_cred().ok();
    let uid = caller.map(|c| c.uid());
    loop {
        let mut prefix = [0u8; 4];
        match tokio::time::timeout(IDLE_TIMEOUT, stream.read_exact(&mut prefix)).await {
            Ok(Ok(_)) => {}
            _ => return, // closed, or idle too long
        }
        let result = match control::frame_len(prefix) {
            Ok(n) => {
                // Grow with what arrives rather than trusting the prefix.
                let mut body = Vec::with_capacity(n.min(64 * 1024));
                let mut limited = (&mut stream).take(n as u64);
                let read = limited.read_to_end(&mut body);
                match tokio::time::timeout(FRAME_TIMEOUT, read).await {
                    Ok(Ok(got)) if got == n => match control::decode_request(&body) {
                        Ok(op) => match control::authorize(&op, uid, owner_uid()) {
                            Ok(()) => dispatch(&shared, op).await,
                            Err(e) => {
                                let pid = caller.and_then(|c| c.pid());
                                warn(&format!(
                                    "control socket: refused {} from uid {} (pid {}): it changes trust, \
                                     folders or settings, which only uid {} (this owner's user) and root may",
                                    op.name(),
                                    uid.map_or("unknown".into(), |u| u.to_string()),
                                    pid.map_or("unknown".into(), |p| p.to_string()),
                                    owner_uid(),
                                ));
                                Err(e)
                            }
                        },
                        Err(e) => Err(e),
                    },
                    _ => return,
                }
            }
            Err(e) => Err(e),
        };
        let fatal = matches!(&result, Err(HarpError::Protocol(_)));
        if let Err(HarpError::Protocol(m)) = &result {
            warn(&format!("control socket: {m}"));
        }
        if stream
            .write_all(&control::encode_response(&result))
            .await
            .is_err()
            || fatal
        {
            return;
        }
    }
}

/// The user the owner runs as: the one, with root, who may change trust,
/// folders and settings over the control socket.
fn owner_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

async fn dispatch(shared: &Arc<Shared>, op: Op) -> Result<serde_json::Value> {
    // Store and disk work runs on the blocking pool, off the reactor.
    let s = shared.clone();
    tokio::task::spawn_blocking(move || s.call(op))
        .await
        .map_err(|e| HarpError::Internal(format!("request task failed: {e}")))?
}
