//! The control socket: how thin clients (FPM workers, cron, CLI calls) ask
//! the owner process things, over the Unix socket `harp.sock` in the state
//! directory.
//!
//! Wire format, documented in docs/PROTOCOL.md: each message is a frame of
//! a 4-byte big-endian length followed by that many bytes of JSON; a frame
//! is at most `MAX_FRAME` bytes. The client sends a request object
//! `{"v":1,"op":"status"}` and reads one response object, either
//! `{"ok":true,"result":…}` or `{"ok":false,"kind":"…","message":"…"}`.
//! A connection may carry any number of request/response pairs.
//!
//! Notifications do not use this socket: they go through the outbox, so
//! they cost no round trip and survive the owner being down.
//!
//! Who may ask what (`Op::access`, checked by the owner with the caller's
//! `SO_PEERCRED`): reads are open to whoever can reach the socket (mode
//! 0660: the owner's user and group); whatever changes trust, folders or
//! settings only to the owner's user and root. In the Nextcloud set-up the
//! web server's user runs hooks; if it is not the owner's user, it may
//! notify and read, and nothing more: it cannot trust its own device or
//! map `/etc`.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{HarpError, Result};

/// File name of the socket inside the state directory.
pub const SOCKET_FILE: &str = "harp.sock";
/// Largest frame either side accepts.
pub const MAX_FRAME: usize = 1024 * 1024;
/// Protocol version spoken here.
pub const VERSION: u32 = 1;

/// Who may ask for an operation over the control socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone who can connect to `harp.sock` (its mode lets in the owner's
    /// user and group).
    Group,
    /// Only the owner's user and root.
    Owner,
}

/// A request from a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// The owner's status.
    Status,
    /// Maps a folder id to a directory.
    AddFolder {
        /// Folder id.
        folder: String,
        /// Local directory.
        path: String,
        /// The devices it is shared with (device ID text); absent: a new
        /// folder goes to every trusted device, one mapped again keeps its
        /// list (unless `all_devices`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        devices: Option<Vec<String>>,
        /// Share it with every trusted device, now and later.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        all_devices: bool,
        /// The largest file a peer may make this node write there, bytes
        /// (0: no limit but the disk's); absent: as it was (none for a new
        /// folder).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_file_size: Option<u64>,
    },
    /// Shares a folder with one more device.
    ShareFolder {
        /// Folder id.
        folder: String,
        /// Device ID, text form.
        device: String,
    },
    /// Stops sharing a folder with a device.
    UnshareFolder {
        /// Folder id.
        folder: String,
        /// Device ID, text form.
        device: String,
    },
    /// The folders.
    Folders,
    /// Scans a folder.
    Scan {
        /// Folder id.
        folder: String,
    },
    /// The versions of a path.
    History {
        /// Folder id.
        folder: String,
        /// Path inside it.
        path: String,
    },
    /// Checks a folder's entries.
    Verify {
        /// Folder id.
        folder: String,
    },
    /// Pins a device.
    Trust {
        /// Device ID, text form.
        device: String,
        /// Static addresses (IP:port).
        addresses: Vec<String>,
    },
    /// Unpins a device and drops its connection.
    Untrust {
        /// Device ID, text form.
        device: String,
    },
    /// Every known device.
    Peers,
}

impl Op {
    /// The op's name on the wire, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Status => "status",
            Op::AddFolder { .. } => "add_folder",
            Op::ShareFolder { .. } => "share_folder",
            Op::UnshareFolder { .. } => "unshare_folder",
            Op::Folders => "folders",
            Op::Scan { .. } => "scan",
            Op::History { .. } => "history",
            Op::Verify { .. } => "verify",
            Op::Trust { .. } => "trust",
            Op::Untrust { .. } => "untrust",
            Op::Peers => "peers",
        }
    }

    /// Who may ask for it. Every new op must be placed here (the match has
    /// no catch-all): anything that changes trust, folders or settings is
    /// `Owner`.
    pub fn access(&self) -> Access {
        match self {
            Op::Status | Op::Folders | Op::History { .. } | Op::Verify { .. } | Op::Peers => {
                Access::Group
            }
            // Scan is open to the group. It changes no trust, folder or
            // setting: it records what is on disk in a folder already
            // mapped, which is what a group member's notify does one path at
            // a time (and a group member that can write in the folder, the
            // web server, decides its content anyway). Its cost, hashing
            // changed files, is the cost of those notifies; unchanged files
            // are skipped by size and mtime. And `occ harp:scan` runs as the
            // web server's user.
            Op::Scan { .. } => Access::Group,
            Op::AddFolder { .. }
            | Op::ShareFolder { .. }
            | Op::UnshareFolder { .. }
            | Op::Trust { .. }
            | Op::Untrust { .. } => Access::Owner,
        }
    }
}

/// Whether a caller with user id `uid` may ask for `op` of an owner that
/// runs as `owner_uid`; the refusal says why and what to do. `uid` is None
/// when the kernel could not say who is calling: then only `Group` ops.
pub fn authorize(op: &Op, uid: Option<u32>, owner_uid: u32) -> Result<()> {
    if op.access() == Access::Group || uid.is_some_and(|u| u == owner_uid || u == 0) {
        return Ok(());
    }
    let who = uid.map_or("an unknown user".to_string(), |u| format!("uid {u}"));
    Err(HarpError::Forbidden(format!(
        "`{}` changes trust, folders or settings, which only the owner's user \
         (uid {owner_uid}) and root may do; {who} may only read and notify: \
         run it as that user (e.g. `sudo -u \"#{owner_uid}\" …`) or as root",
        op.name()
    )))
}

#[derive(Debug, Serialize, Deserialize)]
struct Request {
    v: u32,
    #[serde(flatten)]
    op: Op,
}

/// Encodes a request frame.
pub fn encode_request(op: &Op) -> Result<Vec<u8>> {
    frame(
        &serde_json::to_vec(&Request {
            v: VERSION,
            op: op.clone(),
        })
        .map_err(|e| HarpError::Internal(format!("encoding request: {e}")))?,
    )
}

/// Decodes a request body (without the length prefix).
pub fn decode_request(body: &[u8]) -> Result<Op> {
    let req: Request = serde_json::from_slice(body)
        .map_err(|e| HarpError::Protocol(format!("malformed request: {e}")))?;
    if req.v != VERSION {
        return Err(HarpError::Protocol(format!(
            "request version {} is not supported; this owner speaks version {VERSION}",
            req.v
        )));
    }
    Ok(req.op)
}

/// Encodes a response frame for a result.
pub fn encode_response(result: &Result<Value>) -> Vec<u8> {
    let v = match result {
        Ok(r) => serde_json::json!({ "ok": true, "result": r }),
        Err(e) => serde_json::json!({ "ok": false, "kind": e.kind(), "message": e.to_string() }),
    };
    // A Value always serialises. An answer over the frame limit becomes an
    // error the client can read, rather than an empty write it would wait
    // on until its timeout.
    let body = serde_json::to_vec(&v).unwrap_or_default();
    frame(&body).unwrap_or_else(|_| {
        let e = HarpError::Protocol(format!(
            "the answer is {} bytes, over the control socket's limit of {MAX_FRAME}",
            body.len()
        ));
        let v = serde_json::json!({ "ok": false, "kind": e.kind(), "message": e.to_string() });
        frame(&serde_json::to_vec(&v).unwrap_or_default()).unwrap_or_default()
    })
}

/// Decodes a response body into the result it carries.
pub fn decode_response(body: &[u8]) -> Result<Value> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| HarpError::Protocol(format!("malformed response: {e}")))?;
    match v.get("ok").and_then(Value::as_bool) {
        Some(true) => Ok(v.get("result").cloned().unwrap_or(Value::Null)),
        Some(false) => {
            let kind = v.get("kind").and_then(Value::as_str).unwrap_or("protocol");
            let msg = v
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("the owner reported an error without a message");
            Err(HarpError::from_remote(kind, msg.to_string()))
        }
        None => Err(HarpError::Protocol("response without \"ok\"".into())),
    }
}

fn frame(body: &[u8]) -> Result<Vec<u8>> {
    if body.len() > MAX_FRAME {
        return Err(HarpError::Protocol(format!(
            "frame of {} bytes exceeds the limit of {MAX_FRAME}",
            body.len()
        )));
    }
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
    Ok(out)
}

/// Checks a frame's length prefix.
pub fn frame_len(prefix: [u8; 4]) -> Result<usize> {
    let n = u32::from_be_bytes(prefix) as usize;
    if n > MAX_FRAME {
        return Err(HarpError::Protocol(format!(
            "frame of {n} bytes exceeds the limit of {MAX_FRAME}"
        )));
    }
    Ok(n)
}

/// Sends one request to the owner of `dir` and waits for its answer.
/// A fresh connection per call: nothing is shared between processes, so a
/// forked child can never reuse its parent's connection.
pub fn request(dir: &Path, op: &Op, timeout: Duration) -> Result<Value> {
    let path = dir.join(SOCKET_FILE);
    let mut s = UnixStream::connect(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
            HarpError::NotRunning {
                dir: dir.to_path_buf(),
            }
        }
        _ => HarpError::storage(format!("connecting to {}", path.display()), e),
    })?;
    let io = |e: std::io::Error| {
        HarpError::Protocol(format!("talking to the owner over {}: {e}", path.display()))
    };
    s.set_read_timeout(Some(timeout)).map_err(io)?;
    s.set_write_timeout(Some(timeout)).map_err(io)?;
    s.write_all(&encode_request(op)?).map_err(io)?;
    let mut prefix = [0u8; 4];
    s.read_exact(&mut prefix).map_err(io)?;
    let mut body = vec![0u8; frame_len(prefix)?];
    s.read_exact(&mut body).map_err(io)?;
    decode_response(&body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_responses_round_trip() {
        let f = encode_request(&Op::Status).unwrap();
        let n = frame_len([f[0], f[1], f[2], f[3]]).unwrap();
        assert_eq!(decode_request(&f[4..4 + n]).unwrap(), Op::Status);

        let ok = encode_response(&Ok(serde_json::json!({"a": 1})));
        assert_eq!(decode_response(&ok[4..]).unwrap()["a"], 1);
        let bad = encode_response(&Err(HarpError::Config("nope".into())));
        let err = decode_response(&bad[4..]).unwrap_err();
        assert_eq!(err.kind(), "config");
        assert!(err.to_string().contains("nope"));
    }

    #[test]
    fn malformed_input_is_a_protocol_error() {
        assert!(decode_request(b"{").is_err());
        assert!(decode_request(br#"{"v":1,"op":"launch_missiles"}"#).is_err());
        let e = decode_request(br#"{"v":9,"op":"status"}"#).unwrap_err();
        assert!(e.to_string().contains("version 9"), "{e}");
        assert!(frame_len((MAX_FRAME as u32 + 1).to_be_bytes()).is_err());
        assert!(decode_response(b"[]").is_err());
    }

    #[test]
    fn an_answer_over_the_frame_limit_is_an_error_the_client_can_read() {
        let big = serde_json::json!({ "history": "x".repeat(MAX_FRAME) });
        let f = encode_response(&Ok(big));
        let n = frame_len([f[0], f[1], f[2], f[3]]).unwrap();
        assert_eq!(f.len(), 4 + n);
        let e = decode_response(&f[4..]).unwrap_err();
        assert_eq!(e.kind(), "protocol");
        assert!(e.to_string().contains("limit"), "{e}");
    }

    #[test]
    fn only_the_owner_and_root_change_trust_folders_or_settings() {
        let owner = 1000;
        let mutating = [
            Op::AddFolder {
                folder: "etc".into(),
                path: "/etc".into(),
                devices: None,
                all_devices: false,
                max_file_size: None,
            },
            Op::Trust {
                device: "X".into(),
                addresses: vec![],
            },
            Op::Untrust { device: "X".into() },
        ];
        let reads = [
            Op::Status,
            Op::Folders,
            Op::Peers,
            Op::History {
                folder: "docs".into(),
                path: "a".into(),
            },
            Op::Verify {
                folder: "docs".into(),
            },
            Op::Scan {
                folder: "docs".into(),
            },
        ];
        for op in &mutating {
            assert_eq!(op.access(), Access::Owner, "{op:?}");
            assert!(authorize(op, Some(owner), owner).is_ok());
            assert!(authorize(op, Some(0), owner).is_ok(), "root may");
            for who in [Some(33), Some(65534), None] {
                let e = authorize(op, who, owner).unwrap_err();
                assert_eq!(e.kind(), "forbidden", "{op:?} by {who:?}");
                assert!(e.to_string().contains(op.name()), "{e}");
                assert!(e.to_string().contains("uid 1000"), "{e}");
            }
        }
        for op in &reads {
            assert_eq!(op.access(), Access::Group, "{op:?}");
            for who in [Some(owner), Some(0), Some(33), None] {
                assert!(authorize(op, who, owner).is_ok(), "{op:?} by {who:?}");
            }
        }
        // The refusal crosses the socket with its kind.
        let f = encode_response(&authorize(&mutating[1], Some(33), owner).map(|()| Value::Null));
        let e = decode_response(&f[4..]).unwrap_err();
        assert_eq!(e.kind(), "forbidden");
        assert!(
            e.to_string().starts_with("permission denied: `trust`"),
            "{e}"
        );
    }

    #[test]
    fn no_owner_means_not_running() {
        let dir = tempfile::tempdir().unwrap();
        let e = request(dir.path(), &Op::Status, Duration::from_secs(1)).unwrap_err();
        assert_eq!(e.kind(), "not_running");
    }
}
