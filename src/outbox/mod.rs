//! The outbox: how a change notified by any PHP process reaches the owner.
//!
//! `Client::notify` appends one record to the file `outbox` in the state
//! directory and returns: no socket, no hashing, a handful of syscalls. The
//! owner watches the file (inotify), takes new records into its store in
//! batches, and records in the same database transaction how far it has
//! read. So a notify is never lost, whether or not the owner runs, and never
//! taken twice, whenever the owner is killed.
//!
//! File layout (all integers little-endian), documented in docs/PROTOCOL.md:
//!
//! ```text
//! header  : "HARPOUT1" (8) | generation (16 random bytes) | consumed (u64)
//! record  : len (u32) | crc32(payload) (u32) | payload (len bytes)
//! payload : version=1 (u8) | kind (u8) | time_ms (u64) | pid (u32)
//!           | folder (u16 len + UTF-8) | path (u16 len + UTF-8)
//!           | from (u16 len + UTF-8, empty unless kind is rename)
//! ```
//!
//! Writers take an exclusive `flock` for the append, so a failed write can be
//! cut back off and never leaves a torn record. The owner reads under a
//! shared lock. When everything has been taken, the owner replaces the file
//! with an empty one of a new generation (rename under the exclusive lock);
//! a writer that waited on the old file notices and reopens. `consumed` in
//! the header is only a hint for clients counting what waits; the owner's
//! store is the authority.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::codec::Reader;
use crate::error::{HarpError, Result};

/// File name of the outbox inside the state directory.
pub const OUTBOX_FILE: &str = "outbox";
const MAGIC: &[u8; 8] = b"HARPOUT1";
/// Header length: magic, generation, consumed hint.
pub const HEADER_LEN: u64 = 32;
/// Largest payload a record may have; larger lengths mean damage.
pub const MAX_PAYLOAD: usize = 16 * 1024;
/// At most this many bytes are read per batch, to bound the owner's memory.
pub const MAX_BATCH_BYTES: u64 = 4 * 1024 * 1024;
const PAYLOAD_VERSION: u8 = 1;

/// A generation id: changes whenever the owner starts a fresh outbox file.
pub type Generation = [u8; 16];

/// What kind of change a notify reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// A file was created or its content changed.
    Write,
    /// A file was deleted.
    Delete,
    /// A file was renamed; `from` holds the old path.
    Rename,
    /// Chain only, never notified: a device's later entries in a folder
    /// have no effect (its `path` is the device ID, its `size` the first
    /// sequence number revoked). See docs/PROTOCOL.md, "Revocation".
    Revoke,
    /// Chain only, never notified: a revoked device's entries count again
    /// from those that know of this entry (its `path` is the device ID).
    Readmit,
}

impl ChangeKind {
    /// Parses `write`, `delete` or `rename`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "write" => Ok(ChangeKind::Write),
            "delete" => Ok(ChangeKind::Delete),
            "rename" => Ok(ChangeKind::Rename),
            other => Err(HarpError::Config(format!(
                "unknown change kind {other:?}: use write, delete or rename"
            ))),
        }
    }

    /// The name used in PHP and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Write => "write",
            ChangeKind::Delete => "delete",
            ChangeKind::Rename => "rename",
            ChangeKind::Revoke => "revoke",
            ChangeKind::Readmit => "readmit",
        }
    }

    fn code(self) -> u8 {
        match self {
            ChangeKind::Write => 1,
            ChangeKind::Delete => 2,
            ChangeKind::Rename => 3,
            // Never written to the outbox (`parse` does not produce them).
            ChangeKind::Revoke => 4,
            ChangeKind::Readmit => 5,
        }
    }

    fn from_code(c: u8) -> Option<Self> {
        match c {
            1 => Some(ChangeKind::Write),
            2 => Some(ChangeKind::Delete),
            3 => Some(ChangeKind::Rename),
            _ => None,
        }
    }
}

/// One notified change, as a hook reported it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Notice {
    /// The Harp folder.
    pub folder: String,
    /// The path inside the folder (already normalised by `paths`).
    pub path: String,
    /// What happened.
    pub kind: ChangeKind,
    /// For a rename, the old path.
    pub from: Option<String>,
    /// When the hook saw it, milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// The pid of the process that notified.
    pub pid: u32,
}

impl Notice {
    /// The payload encoding (see the module docs).
    pub fn encode(&self) -> Vec<u8> {
        let from = self.from.as_deref().unwrap_or("");
        let mut out = Vec::with_capacity(20 + self.folder.len() + self.path.len() + from.len());
        out.push(PAYLOAD_VERSION);
        out.push(self.kind.code());
        out.extend_from_slice(&self.time_ms.to_le_bytes());
        out.extend_from_slice(&self.pid.to_le_bytes());
        for s in [self.folder.as_str(), self.path.as_str(), from] {
            // Lengths are bounded by `paths` (4096) long before u16::MAX.
            let len = u16::try_from(s.len()).unwrap_or(u16::MAX);
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&s.as_bytes()[..usize::from(len)]);
        }
        out
    }

    /// Decodes a payload; any malformation is a `Protocol` error.
    pub fn decode(buf: &[u8]) -> Result<Self> {
        let bad = |why: &str| HarpError::Protocol(format!("outbox record: {why}"));
        let mut r = Reader::new(buf);
        let version = r.u8().ok_or_else(|| bad("empty"))?;
        if version != PAYLOAD_VERSION {
            return Err(bad(&format!("unknown version {version}")));
        }
        let kind = r
            .u8()
            .and_then(ChangeKind::from_code)
            .ok_or_else(|| bad("unknown kind"))?;
        let time_ms = r.u64().ok_or_else(|| bad("truncated time"))?;
        let pid = r.u32().ok_or_else(|| bad("truncated pid"))?;
        let mut text = |what: &str| {
            let n = usize::from(r.u16().ok_or_else(|| bad(what))?);
            r.string(n).ok_or_else(|| bad(what))
        };
        let folder = text("bad folder")?;
        let path = text("bad path")?;
        let from = text("bad from")?;
        if !r.done() {
            return Err(bad("trailing bytes"));
        }
        Ok(Notice {
            folder,
            path,
            kind,
            from: if from.is_empty() { None } else { Some(from) },
            time_ms,
            pid,
        })
    }
}

fn flock(file: &File, op: i32) -> std::io::Result<()> {
    loop {
        // SAFETY: flock on a valid descriptor owned by `file`.
        let rc = unsafe { libc::flock(file.as_raw_fd(), op) };
        if rc == 0 {
            return Ok(());
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// A file locked with `flock`, unlocked explicitly when dropped. Closing is
/// not enough: a process forked while the lock is held shares the open file
/// description, and the lock would live on in the child.
struct Locked(File);

impl Locked {
    fn new(file: File, op: i32) -> std::io::Result<Self> {
        flock(&file, op)?;
        Ok(Locked(file))
    }
}

impl Drop for Locked {
    fn drop(&mut self) {
        let _ = flock(&self.0, libc::LOCK_UN);
    }
}

impl std::ops::Deref for Locked {
    type Target = File;
    fn deref(&self) -> &File {
        &self.0
    }
}

fn new_header() -> Result<[u8; HEADER_LEN as usize]> {
    let mut h = [0u8; HEADER_LEN as usize];
    h[..8].copy_from_slice(MAGIC);
    getrandom::getrandom(&mut h[8..24])
        .map_err(|e| HarpError::storage("no randomness for the outbox", e))?;
    h[24..32].copy_from_slice(&HEADER_LEN.to_le_bytes());
    Ok(h)
}

fn outbox_error(dir: &Path, e: std::io::Error) -> HarpError {
    let path = dir.join(OUTBOX_FILE);
    match e.raw_os_error() {
        Some(libc::ENOSPC) | Some(libc::EDQUOT) => HarpError::Storage(format!(
            "the disk holding {} is full (no space left); the change was not recorded, free space and retry",
            path.display()
        )),
        _ => HarpError::io(&format!("outbox {}", path.display()), &e),
    }
}

/// Appends one notice. Returns once the record is in the file (the kernel's
/// page cache: it survives the death of any process); with `fsync` also on
/// the disk. Called from any process, with or without an owner.
pub fn append(dir: &Path, notice: &Notice, fsync: bool) -> Result<()> {
    let payload = notice.encode();
    let mut record = Vec::with_capacity(8 + payload.len());
    record.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    record.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    record.extend_from_slice(&payload);
    write_record(dir, &record, fsync)
}

/// Creates the outbox (a header, no record) if there is none: the owner
/// does this at start, since a group member may append to the outbox but
/// not create files in a state directory shared with its group (2750).
pub fn prepare(dir: &Path) -> Result<()> {
    write_record(dir, &[], false)
}

/// Appends `record` (which may be empty) under the outbox's lock, with a
/// header first if the file is new.
fn write_record(dir: &Path, record: &[u8], fsync: bool) -> Result<()> {
    let path = dir.join(OUTBOX_FILE);
    let io = |e| outbox_error(dir, e);

    // The owner may swap the file between our open and our lock; then our
    // descriptor points at the retired file and we open again. Each swap
    // needs the owner to have drained the file, so two tries nearly always
    // do; the bound keeps a pathological case from spinning.
    for _ in 0..16 {
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o660)
            .custom_flags(libc::O_CLOEXEC)
            .open(&path)
            .map_err(io)?;
        let mut file = Locked::new(file, libc::LOCK_EX).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        match std::fs::metadata(&path) {
            Ok(now) if now.ino() == meta.ino() && now.dev() == meta.dev() => {}
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io(e)),
        }
        let start = meta.len();
        let mut buf = Vec::with_capacity(HEADER_LEN as usize + record.len());
        if start == 0 {
            // New: 0660 whatever the umask, so the group the state directory
            // lets in (the web server's, in the Nextcloud set-up) can
            // notify. Best effort: only the file's owner may chmod it.
            let _ = file
                .0
                .set_permissions(std::fs::Permissions::from_mode(0o660));
        }
        if start < HEADER_LEN {
            // A new file, or the remains of a header that never finished:
            // start it over.
            if start > 0 {
                file.set_len(0).map_err(io)?;
            }
            buf.extend_from_slice(&new_header()?);
        }
        buf.extend_from_slice(record);
        let written = file.0.write_all(&buf).and_then(|()| {
            if fsync {
                file.sync_data()?;
                if start == 0 {
                    // A new file: its directory entry must be durable too.
                    File::open(dir)?.sync_all()?;
                }
            }
            Ok(())
        });
        if let Err(e) = written {
            // Cut off whatever part was written, so no torn record stays.
            let _ = file.set_len(if start < HEADER_LEN { 0 } else { start });
            return Err(io(e));
        }
        return Ok(());
    }
    Err(HarpError::Storage(format!(
        "outbox {} kept being replaced while appending; retry",
        path.display()
    )))
}

/// One record read back by the owner.
#[derive(Debug, Clone)]
pub struct Taken {
    /// The notice.
    pub notice: Notice,
    /// The offset just past this record: the position to store once it is
    /// taken.
    pub end: u64,
}

/// The result of reading the outbox past a position.
#[derive(Debug, Default)]
pub struct Batch {
    /// The generation of the file that was read.
    pub generation: Generation,
    /// The records read, in file order.
    pub records: Vec<Taken>,
    /// The position after the last byte accounted for (records and skipped
    /// damage). Store this with the records.
    pub end: u64,
    /// Damage that was skipped, with where and why.
    pub damage: Vec<String>,
    /// True when the read stopped at the batch limit and more is waiting.
    pub more: bool,
}

/// Reads the records after `from` (a generation and offset the owner stored
/// earlier, or `None` at first start). A different generation means the file
/// was replaced, so reading starts after its header.
pub fn read(dir: &Path, from: Option<(Generation, u64)>) -> Result<Option<Batch>> {
    let path = dir.join(OUTBOX_FILE);
    let io = |e| outbox_error(dir, e);
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(&path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    let mut file = Locked::new(file, libc::LOCK_SH).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    if len < HEADER_LEN {
        return Ok(None);
    }
    let mut header = [0u8; HEADER_LEN as usize];
    file.0.read_exact(&mut header).map_err(io)?;
    if &header[..8] != MAGIC {
        return Err(HarpError::Storage(format!(
            "{} is not a Harp outbox (bad magic); move it aside to continue",
            path.display()
        )));
    }
    let mut generation = [0u8; 16];
    generation.copy_from_slice(&header[8..24]);
    let start = match from {
        Some((g, off)) if g == generation => off.clamp(HEADER_LEN, len),
        _ => HEADER_LEN,
    };
    let want = (len - start).min(MAX_BATCH_BYTES + MAX_PAYLOAD as u64 + 8);
    let mut buf = vec![0u8; want as usize];
    file.0.seek(SeekFrom::Start(start)).map_err(io)?;
    file.0.read_exact(&mut buf).map_err(io)?;
    drop(file); // releases the shared lock

    let mut batch = Batch {
        generation,
        end: start,
        ..Batch::default()
    };
    let mut pos = 0usize;
    while pos < buf.len() {
        if pos as u64 >= MAX_BATCH_BYTES {
            batch.more = true;
            break;
        }
        match parse_record(&buf[pos..]) {
            Parsed::Record(notice, n) => {
                pos += n;
                batch.records.push(Taken {
                    notice,
                    end: start + pos as u64,
                });
            }
            Parsed::Incomplete if start + (buf.len() as u64) < len => {
                // The batch window cut this record; the next read gets it.
                batch.more = true;
                break;
            }
            _ => {
                // Damage: a record torn by a writer that died mid-write, or
                // flipped bits. Writers append under an exclusive lock, so
                // this is not a write in progress. Skip to the next offset
                // where a whole valid record starts, so one torn record
                // never hides the ones written after it.
                let from = pos;
                pos += 1;
                while pos < buf.len() && !matches!(parse_record(&buf[pos..]), Parsed::Record(..)) {
                    pos += 1;
                }
                batch.damage.push(format!(
                    "offset {}: {} damaged bytes skipped",
                    start + from as u64,
                    pos - from
                ));
            }
        }
    }
    batch.end = start + pos as u64;
    Ok(Some(batch))
}

enum Parsed {
    /// A valid record and its length in bytes.
    Record(Notice, usize),
    /// Not enough bytes for the record its header announces.
    Incomplete,
    /// Not a valid record.
    Bad,
}

fn parse_record(rest: &[u8]) -> Parsed {
    if rest.len() < 8 {
        return Parsed::Incomplete;
    }
    let plen = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
    let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
    if plen == 0 || plen > MAX_PAYLOAD {
        return Parsed::Bad;
    }
    let Some(payload) = rest.get(8..8 + plen) else {
        return Parsed::Incomplete;
    };
    if crc32fast::hash(payload) != crc {
        return Parsed::Bad;
    }
    match Notice::decode(payload) {
        Ok(n) => Parsed::Record(n, 8 + plen),
        Err(_) => Parsed::Bad,
    }
}

/// Writes the `consumed` hint into the header of generation `g`, so clients
/// can count what waits while no owner runs. Best effort.
pub fn write_hint(dir: &Path, g: &Generation, consumed: u64) {
    let Ok(file) = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(dir.join(OUTBOX_FILE))
    else {
        return;
    };
    let mut gen_now = [0u8; 16];
    if file.read_exact_at(&mut gen_now, 8).is_ok() && &gen_now == g {
        let _ = file.write_all_at(&consumed.to_le_bytes(), 24);
    }
}

/// Replaces a fully taken outbox with an empty one of a new generation.
/// Does nothing if records arrived after `end` or the generation changed.
/// Returns the new generation when it swapped.
pub fn retire_if_drained(dir: &Path, g: &Generation, end: u64) -> Result<Option<Generation>> {
    let path = dir.join(OUTBOX_FILE);
    let io = |e| outbox_error(dir, e);
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(&path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    let file = Locked::new(file, libc::LOCK_EX).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let mut gen_now = [0u8; 16];
    if len != end || file.read_exact_at(&mut gen_now, 8).is_err() || &gen_now != g {
        return Ok(None);
    }
    let header = new_header()?;
    let tmp = dir.join("outbox.new");
    let mut t = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o660)
        .custom_flags(libc::O_CLOEXEC)
        .open(&tmp)
        .map_err(io)?;
    // 0660 whatever the umask, as `append` makes a new outbox.
    t.set_permissions(std::fs::Permissions::from_mode(0o660))
        .map_err(io)?;
    t.write_all(&header).map_err(io)?;
    t.sync_all().map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)?;
    // Durable before writers may use the new file: a power cut must not
    // bring back the old one under records written to the new one.
    crate::fsutil::sync_dir(dir)?;
    // Writers blocked on the old file's lock see the swap and reopen.
    drop(file);
    let mut new_gen = [0u8; 16];
    new_gen.copy_from_slice(&header[8..24]);
    Ok(Some(new_gen))
}

/// How many records wait in the outbox past the owner's last hint. Used by
/// clients while no owner runs; the owner counts from its store instead.
pub fn waiting(dir: &Path) -> Result<u64> {
    let path = dir.join(OUTBOX_FILE);
    let mut file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(outbox_error(dir, e)),
    };
    let mut header = [0u8; HEADER_LEN as usize];
    if file.read_exact(&mut header).is_err() || &header[..8] != MAGIC {
        return Ok(0);
    }
    let mut g = [0u8; 16];
    g.copy_from_slice(&header[8..24]);
    let hint = u64::from_le_bytes([
        header[24], header[25], header[26], header[27], header[28], header[29], header[30],
        header[31],
    ]);
    count_after(dir, g, hint)
}

/// Counts complete records after `offset` in generation `g` (reads lengths
/// only).
pub fn count_after(dir: &Path, g: Generation, offset: u64) -> Result<u64> {
    let mut total = 0u64;
    let mut from = Some((g, offset));
    loop {
        let Some(batch) = read(dir, from)? else {
            return Ok(total);
        };
        total += batch.records.len() as u64;
        if !batch.more {
            return Ok(total);
        }
        from = Some((batch.generation, batch.end));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(i: usize) -> Notice {
        Notice {
            folder: "docs".into(),
            path: format!("dir/file-{i}.txt"),
            kind: if i % 3 == 2 {
                ChangeKind::Rename
            } else {
                ChangeKind::Write
            },
            from: if i % 3 == 2 {
                Some(format!("old-{i}"))
            } else {
                None
            },
            time_ms: 1_700_000_000_000 + i as u64,
            pid: 42,
        }
    }

    #[test]
    fn payload_round_trips_and_rejects_garbage() {
        let n = notice(2);
        assert_eq!(Notice::decode(&n.encode()).unwrap(), n);
        let mut bad = n.encode();
        bad[0] = 9;
        assert!(Notice::decode(&bad).is_err());
        assert!(Notice::decode(&[]).is_err());
        let enc = n.encode();
        for cut in 0..enc.len() {
            assert!(Notice::decode(&enc[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn appended_records_are_read_in_order_once() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read(dir.path(), None).unwrap().is_none());
        for i in 0..100 {
            append(dir.path(), &notice(i), false).unwrap();
        }
        assert_eq!(waiting(dir.path()).unwrap(), 100);
        let b = read(dir.path(), None).unwrap().unwrap();
        assert_eq!(b.records.len(), 100);
        assert!(b.damage.is_empty());
        for (i, t) in b.records.iter().enumerate() {
            assert_eq!(t.notice, notice(i));
        }
        // Reading from the end finds nothing new.
        let again = read(dir.path(), Some((b.generation, b.end)))
            .unwrap()
            .unwrap();
        assert!(again.records.is_empty());
        // The hint makes clients count nothing waiting.
        write_hint(dir.path(), &b.generation, b.end);
        assert_eq!(waiting(dir.path()).unwrap(), 0);
        append(dir.path(), &notice(100), false).unwrap();
        assert_eq!(waiting(dir.path()).unwrap(), 1);
        let next = read(dir.path(), Some((b.generation, b.end)))
            .unwrap()
            .unwrap();
        assert_eq!(next.records.len(), 1);
        assert_eq!(next.records[0].notice, notice(100));
    }

    #[test]
    fn retiring_swaps_generation_only_when_drained() {
        let dir = tempfile::tempdir().unwrap();
        append(dir.path(), &notice(0), false).unwrap();
        let b = read(dir.path(), None).unwrap().unwrap();
        append(dir.path(), &notice(1), false).unwrap();
        // Not drained: the second record arrived after the read.
        assert!(retire_if_drained(dir.path(), &b.generation, b.end)
            .unwrap()
            .is_none());
        let b2 = read(dir.path(), Some((b.generation, b.end)))
            .unwrap()
            .unwrap();
        let new_gen = retire_if_drained(dir.path(), &b2.generation, b2.end)
            .unwrap()
            .unwrap();
        assert_ne!(new_gen, b.generation);
        // A writer after the swap lands in the new generation, and a reader
        // holding the old position starts after the new header.
        append(dir.path(), &notice(2), false).unwrap();
        let b3 = read(dir.path(), Some((b2.generation, b2.end)))
            .unwrap()
            .unwrap();
        assert_eq!(b3.generation, new_gen);
        assert_eq!(b3.records.len(), 1);
        assert_eq!(b3.records[0].notice, notice(2));
    }

    #[test]
    fn damaged_record_is_skipped_and_reported_and_later_ones_survive() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..3 {
            append(dir.path(), &notice(i), false).unwrap();
        }
        // Flip a payload byte of the second record.
        let path = dir.path().join(OUTBOX_FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        let first_len = 8 + notice(0).encode().len();
        let idx = HEADER_LEN as usize + first_len + 12;
        bytes[idx] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let b = read(dir.path(), None).unwrap().unwrap();
        assert_eq!(b.records.len(), 2);
        assert_eq!(b.records[0].notice, notice(0));
        assert_eq!(b.records[1].notice, notice(2));
        assert_eq!(b.damage.len(), 1);
        assert!(
            b.damage[0].contains("damaged bytes skipped"),
            "{:?}",
            b.damage
        );
    }

    #[test]
    fn garbage_tail_is_skipped_and_appends_after_it_are_read() {
        let dir = tempfile::tempdir().unwrap();
        append(dir.path(), &notice(0), false).unwrap();
        let path = dir.path().join(OUTBOX_FILE);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[0xff, 0xff, 0xff]).unwrap();
        let b = read(dir.path(), None).unwrap().unwrap();
        assert_eq!(b.records.len(), 1);
        assert_eq!(b.damage.len(), 1);
        assert_eq!(b.end, std::fs::metadata(&path).unwrap().len());
        append(dir.path(), &notice(1), false).unwrap();
        let b2 = read(dir.path(), Some((b.generation, b.end)))
            .unwrap()
            .unwrap();
        assert_eq!(b2.records.len(), 1);
        assert_eq!(b2.records[0].notice, notice(1));
    }

    #[test]
    fn a_torn_record_in_the_middle_hides_nothing_written_after_it() {
        let dir = tempfile::tempdir().unwrap();
        append(dir.path(), &notice(0), false).unwrap();
        // A writer died after writing part of a record (no cut-back).
        let path = dir.path().join(OUTBOX_FILE);
        let mut torn = Vec::new();
        let p = notice(1).encode();
        torn.extend_from_slice(&(p.len() as u32).to_le_bytes());
        torn.extend_from_slice(&crc32fast::hash(&p).to_le_bytes());
        torn.extend_from_slice(&p[..5]);
        OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(&torn)
            .unwrap();
        for i in 2..102 {
            append(dir.path(), &notice(i), false).unwrap();
        }
        let b = read(dir.path(), None).unwrap().unwrap();
        assert_eq!(b.records.len(), 101);
        assert_eq!(b.records[1].notice, notice(2));
        assert_eq!(b.damage.len(), 1, "{:?}", b.damage);
        assert!(b.damage[0].contains("13 damaged bytes"), "{:?}", b.damage);
    }

    #[test]
    fn concurrent_writers_from_threads_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let d = dir.path().to_path_buf();
                std::thread::spawn(move || {
                    for i in 0..250 {
                        append(&d, &notice(t * 1000 + i), false).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let b = read(dir.path(), None).unwrap().unwrap();
        assert_eq!(b.records.len(), 1000);
        let mut paths: Vec<_> = b.records.iter().map(|t| t.notice.path.clone()).collect();
        paths.sort();
        paths.dedup();
        assert_eq!(paths.len(), 1000);
    }
}
