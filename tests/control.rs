//! The local control plane checks who is asking (issue 11, point 4): a
//! real owner node, and a client running as another user (`nobody`, in the
//! state directory's group) talking to its `harp.sock`.
//!
//! The other user is this test binary run again as uid/gid 65534 (copied
//! where `nobody` may execute it), with `HARP_CONTROL_CHILD` naming the
//! state directory: the `child` test then makes its requests and prints
//! what each gave, one JSON line each. Needs root (to switch users); as
//! any other user those parts are skipped, with a note.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test harness

use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use harp::client::Client;
use harp::control::Op;
use harp::identity::DeviceKey;
use harp::owner::{Config, Owner};
use serde_json::{json, Value};

/// `nobody` and `nogroup` on Debian.
const NOBODY: u32 = 65534;
const CHILD_ENV: &str = "HARP_CONTROL_CHILD";

/// The tests redirect this process's stderr to read the owner's log: one
/// at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn config() -> Config {
    Config {
        name: "control".into(),
        listen: "127.0.0.1:0".into(),
        mdns: false,
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What a request gave, as the child prints it.
fn outcome(r: harp::Result<Value>) -> Value {
    match r {
        Ok(v) => json!({ "ok": true, "result": v }),
        Err(e) => json!({ "ok": false, "kind": e.kind(), "message": e.to_string() }),
    }
}

/// The other user's side: runs only when re-executed by
/// `another_user_may_read_and_notify_but_not_change_trust_or_folders`.
#[test]
fn child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let dir = PathBuf::from(dir);
    let client = Client::new(&dir, false).unwrap();
    let stranger = DeviceKey::from_seed([9; 32]).device_id().to_string();
    let asks = [
        ("status", Op::Status),
        ("folders", Op::Folders),
        ("peers", Op::Peers),
        (
            "scan",
            Op::Scan {
                folder: "docs".into(),
            },
        ),
        (
            "trust",
            Op::Trust {
                device: stranger.clone(),
                addresses: vec!["127.0.0.1:9".into()],
            },
        ),
        (
            "add_folder",
            Op::AddFolder {
                folder: "etc".into(),
                path: "/etc".into(),
                devices: None,
                all_devices: false,
                max_file_size: None,
            },
        ),
        ("untrust", Op::Untrust { device: stranger }),
    ];
    for (name, op) in asks {
        println!(
            "CHILD {}",
            json!({ "ask": name, "got": outcome(client.call(op)) })
        );
    }
    let status = outcome(client.status());
    println!("CHILD {}", json!({ "ask": "client_status", "got": status }));
    let notified = client.notify("docs", "from-nobody.txt", "write", None);
    let notified = outcome(notified.map(|()| Value::Null));
    println!("CHILD {}", json!({ "ask": "notify", "got": notified }));
}

/// Redirects this process's stderr (fd 2) into a file until dropped; the
/// owner's runtime threads write their log there.
struct StderrCapture {
    saved: i32,
    file: tempfile::NamedTempFile,
}

impl StderrCapture {
    fn start() -> StderrCapture {
        use std::os::fd::AsRawFd;
        let file = tempfile::NamedTempFile::new().unwrap();
        // SAFETY: dup and dup2 on descriptors this process holds open.
        let saved = unsafe { libc::dup(2) };
        assert!(saved >= 0);
        assert!(unsafe { libc::dup2(file.as_file().as_raw_fd(), 2) } >= 0);
        StderrCapture { saved, file }
    }

    /// Restores stderr and returns what was written meanwhile (echoed).
    fn finish(self) -> String {
        // SAFETY: as above; `saved` is ours.
        unsafe {
            libc::dup2(self.saved, 2);
            libc::close(self.saved);
        }
        let mut s = String::new();
        std::fs::File::open(self.file.path())
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        eprint!("{s}");
        s
    }
}

/// A directory `nobody` may look into, holding the state directory: owned
/// by root, group `nogroup`, mode 2750 (setgid, so the socket and the
/// outbox the owner creates get the group too).
fn shared_state_dir() -> (tempfile::TempDir, PathBuf) {
    let base = tempfile::tempdir().unwrap();
    std::fs::set_permissions(base.path(), PermissionsExt::from_mode(0o711)).unwrap();
    let state = base.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let c = std::ffi::CString::new(state.as_os_str().to_str().unwrap()).unwrap();
    // SAFETY: chown on a NUL-terminated path we own.
    assert_eq!(unsafe { libc::chown(c.as_ptr(), 0, NOBODY) }, 0);
    std::fs::set_permissions(&state, PermissionsExt::from_mode(0o2750)).unwrap();
    (base, state)
}

#[test]
fn another_user_may_read_and_notify_but_not_change_trust_or_folders() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    if !is_root() {
        eprintln!("skipped: switching to uid {NOBODY} needs root");
        return;
    }
    let _serial = serial();
    let (base, state) = shared_state_dir();
    let folder = base.path().join("docs");
    let mut owner = Owner::open(&state, config()).unwrap();
    owner.add_folder("docs", &folder).unwrap();
    owner.start().unwrap();

    assert_eq!(mode(&state), 0o2750, "a 2750 state directory is kept");
    assert_eq!(mode(&state.join("store.redb")), 0o600);
    assert_eq!(mode(&state.join("device.key")), 0o600);
    assert_eq!(mode(&state.join("harp.sock")), 0o660);
    // The owner made the outbox, open to the group whatever the umask:
    // nobody may append to it, not create it.
    assert_eq!(mode(&state.join("outbox")), 0o660);
    let sock = std::fs::metadata(state.join("harp.sock")).unwrap();
    assert_eq!(sock.gid(), NOBODY, "the socket takes the directory's group");

    // This binary, where nobody may run it.
    let exe = base.path().join("control-helper");
    std::fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
    std::fs::set_permissions(&exe, PermissionsExt::from_mode(0o755)).unwrap();

    let log = StderrCapture::start();
    let child = std::process::Command::new(&exe)
        .args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &state)
        .uid(NOBODY)
        .gid(NOBODY)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    // The log lines are written before the answers are sent.
    let log = log.finish();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: std::collections::HashMap<String, Value> = stdout
        .lines()
        // libtest may print "test child ... " in front of the first one.
        .filter_map(|l| l.split_once("CHILD ").map(|(_, json)| json))
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (v["ask"].as_str().unwrap().to_string(), v["got"].clone())
        })
        .collect();
    eprintln!("{got:#?}");

    // Reads, scan and notify: open to the group.
    for ask in [
        "status",
        "folders",
        "peers",
        "scan",
        "client_status",
        "notify",
    ] {
        assert_eq!(got[ask]["ok"], true, "{ask}: {}", got[ask]);
    }
    assert_eq!(
        got["status"]["result"]["device_id"],
        owner.device_id().to_string()
    );
    assert_eq!(got["client_status"]["result"]["running"], true);
    // Trust and folders: refused, saying why, and logged with uid and pid.
    for ask in ["trust", "add_folder", "untrust"] {
        let g = &got[ask];
        assert_eq!(g["ok"], false, "{ask}: {g}");
        assert_eq!(g["kind"], "forbidden", "{ask}: {g}");
        let msg = g["message"].as_str().unwrap();
        assert!(msg.contains(&format!("`{ask}`")), "{msg}");
        assert!(
            msg.contains("only the owner's user (uid 0) and root"),
            "{msg}"
        );
        assert!(
            msg.contains(&format!("uid {NOBODY} may only read and notify")),
            "{msg}"
        );
        let line = format!("refused {ask} from uid {NOBODY} (pid {pid})");
        assert!(log.contains(&line), "no {line:?} in the log:\n{log}");
    }
    // And nothing changed.
    let peers = owner.call(Op::Peers).unwrap();
    assert_eq!(peers.as_array().unwrap().len(), 0, "{peers}");
    let folders = owner.call(Op::Folders).unwrap();
    assert_eq!(folders.as_array().unwrap().len(), 1, "{folders}");
    // Both notifies are recorded, the other user's and the owner's.
    let mine = Client::new(&state, false).unwrap();
    mine.notify("docs", "from-owner.txt", "write", None)
        .unwrap();
    wait_until("both notifies to be recorded", || {
        let paths: Vec<String> = owner
            .changes(0, 100)
            .unwrap()
            .into_iter()
            .map(|c| c.notice.path)
            .collect();
        paths.contains(&"from-owner.txt".to_string())
            && paths.contains(&"from-nobody.txt".to_string())
    });
    owner.stop().unwrap();
}

#[test]
fn add_folder_refuses_the_state_directory_its_parents_its_insides_and_system_directories() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let _serial = serial();
    let base = tempfile::tempdir().unwrap();
    let state = base.path().join("srv/state");
    let mut owner = Owner::open(&state, config()).unwrap();
    owner.start().unwrap();
    let client = Client::new(&state, false).unwrap();
    let cases: [(PathBuf, &str); 6] = [
        (state.clone(), "is Harp's state directory"),
        (base.path().join("srv"), "contains Harp's state directory"),
        (base.path().to_path_buf(), "contains Harp's state directory"),
        (state.join("inside"), "inside Harp's state directory"),
        (PathBuf::from("/etc"), "is the system directory /etc"),
        (
            PathBuf::from("/etc/harp-test-x"),
            "lies inside the system directory /etc",
        ),
    ];
    for (path, why) in &cases {
        // The owner's own call (PHP Node::addFolder) ...
        let e = owner.add_folder("x", path).unwrap_err();
        assert_eq!(e.kind(), "config", "{e}");
        assert!(e.to_string().contains(why), "{}: {e}", path.display());
        // ... and a client's, over the socket, as the owner's user.
        let e = client
            .call(Op::AddFolder {
                folder: "x".into(),
                path: path.to_str().unwrap().into(),
                devices: None,
                all_devices: false,
                max_file_size: None,
            })
            .unwrap_err();
        assert_eq!(e.kind(), "config", "{e}");
        assert!(e.to_string().contains(why), "{}: {e}", path.display());
    }
    assert!(!state.join("inside").exists(), "nothing was created");
    assert!(
        !Path::new("/etc/harp-test-x").exists(),
        "nothing was created"
    );
    let folders = owner.call(Op::Folders).unwrap();
    assert_eq!(folders.as_array().unwrap().len(), 0, "{folders}");
    // A sibling of the state directory is fine.
    owner
        .add_folder("docs", &base.path().join("srv/docs"))
        .unwrap();
    owner.stop().unwrap();
}

#[test]
fn a_wide_state_directory_is_narrowed_and_the_store_is_private() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let _serial = serial();
    let base = tempfile::tempdir().unwrap();
    let state = base.path().join("state");
    std::fs::create_dir(&state).unwrap();
    std::fs::set_permissions(&state, PermissionsExt::from_mode(0o777)).unwrap();
    let log = StderrCapture::start();
    let owner = Owner::open(&state, config());
    let log = log.finish();
    let _owner = owner.unwrap();
    assert_eq!(mode(&state), 0o700);
    assert!(log.contains("was mode 777; narrowed to 700"), "{log}");
    drop(_owner);
    // Shared with a group on purpose (set-group-ID): group read and search
    // are kept, group write is not.
    std::fs::set_permissions(&state, PermissionsExt::from_mode(0o2775)).unwrap();
    let _owner = Owner::open(&state, config()).unwrap();
    assert_eq!(mode(&state), 0o2750);
    assert_eq!(mode(&state.join("store.redb")), 0o600);
    assert_eq!(mode(&state.join("device.key")), 0o600);
}
