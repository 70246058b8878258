//! Paths beneath a folder's root, resolved without ever following a
//! symlink: the only way Harp touches a file inside a synced folder.
//!
//! A folder is a capability. Its root, canonicalized when the folder was
//! added, is opened as a directory handle (`Root`), and every path under it
//! is resolved relative to that handle: by `openat2` with
//! `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS` where the kernel has it (Linux
//! 5.6 and later), otherwise one component at a time with
//! `openat(O_NOFOLLOW | O_DIRECTORY)`. Either way a symlink anywhere in a
//! path, `..` or an absolute path is an error, never a way out of the
//! folder (Syncthing's CVE-2017-1000420 class).
//!
//! What this module guarantees to its callers:
//! - Directories are created relative to their parent's handle (`mkdirat`),
//!   one component at a time.
//! - A file is read only if it is a regular file: it is looked at with
//!   `fstatat(AT_SYMLINK_NOFOLLOW)` first (a device file or FIFO is never
//!   opened), opened with `O_NOFOLLOW | O_NONBLOCK` (a FIFO swapped in
//!   meanwhile cannot block the caller), and checked again with `fstat`:
//!   regular, and the same device, inode, size and mtime the caller saw.
//! - Temporary files are created with `O_CREAT | O_EXCL | O_NOFOLLOW`,
//!   mode 0600; one found again by name (a download to resume) is used
//!   only if it is a regular file owned by this user with one link, and
//!   is replaced otherwise.
//! - Renames and unlinks name one entry of a directory handle.
//!
//! It also owns the free-space rule for writing into a folder (`fits`).

use std::ffi::CStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, ResolveFlags, Stat};
use rustix::io::Errno;

/// The root directory of a folder, open.
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
    path: PathBuf,
}

/// What a caller saw of a file, to be checked again when it is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    /// Device.
    pub dev: u64,
    /// Inode.
    pub ino: u64,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, ns since the epoch.
    pub mtime_ns: i64,
}

impl Expected {
    /// What `st` says.
    #[allow(clippy::unnecessary_cast)] // the field types differ by architecture
    pub fn of(st: &Stat) -> Expected {
        Expected {
            dev: st.st_dev as u64,
            ino: st.st_ino as u64,
            size: size_of(st),
            mtime_ns: mtime_ns(st),
        }
    }
}

/// A stat's size (never negative).
#[allow(clippy::unnecessary_cast)] // the field types differ by architecture
pub fn size_of(st: &Stat) -> u64 {
    u64::try_from(st.st_size as i64).unwrap_or(0)
}

/// A stat's mtime in ns since the epoch.
#[allow(clippy::unnecessary_cast)] // the field types differ by architecture
pub fn mtime_ns(st: &Stat) -> i64 {
    (st.st_mtime as i64)
        .saturating_mul(1_000_000_000)
        .saturating_add(st.st_mtime_nsec as i64)
}

/// Bytes a stat's file occupies on disk.
#[allow(clippy::unnecessary_cast)] // the field types differ by architecture
pub fn allocated(st: &Stat) -> u64 {
    u64::try_from(st.st_blocks as i64)
        .unwrap_or(0)
        .saturating_mul(512)
}

/// Why a directory entry that is neither a regular file nor a directory is
/// not synced; None for those two.
pub fn special(st: &Stat) -> Option<&'static str> {
    match FileType::from_raw_mode(st.st_mode) {
        FileType::RegularFile | FileType::Directory => None,
        FileType::Symlink => Some("is a symbolic link"),
        FileType::Fifo => Some("is a FIFO"),
        FileType::CharacterDevice | FileType::BlockDevice => Some("is a device file"),
        FileType::Socket => Some("is a socket"),
        FileType::Unknown => Some("is not a regular file"),
    }
}

/// Whether `st` is a regular file.
pub fn is_regular(st: &Stat) -> bool {
    FileType::from_raw_mode(st.st_mode) == FileType::RegularFile
}

/// Whether `st` is a directory.
pub fn is_dir(st: &Stat) -> bool {
    FileType::from_raw_mode(st.st_mode) == FileType::Directory
}

fn refused(what: &str) -> io::Error {
    io::Error::other(what.to_string())
}

/// ELOOP from `O_NOFOLLOW` or `RESOLVE_NO_SYMLINKS` means a symlink was in
/// the way: say so instead of "too many levels of symbolic links".
fn explain(e: Errno) -> io::Error {
    if e == Errno::LOOP {
        refused("a symbolic link is in the way (Harp never follows one inside a folder)")
    } else if e == Errno::NOTDIR {
        refused("a component of the path is not a directory")
    } else {
        io::Error::from(e)
    }
}

/// Splits a relative path into its names, refusing anything that could
/// leave the directory it is resolved from.
fn names(rel: &str) -> io::Result<impl Iterator<Item = &str>> {
    if rel.starts_with('/')
        || rel
            .split('/')
            .any(|n| n.is_empty() || n == "." || n == "..")
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{rel:?} is not a plain relative path"),
        ));
    }
    Ok(rel.split('/'))
}

/// (parent, last name) of a relative path; the parent of `a` is "".
pub fn split(rel: &str) -> (&str, &str) {
    match rel.rfind('/') {
        Some(i) => (&rel[..i], &rel[i + 1..]),
        None => ("", rel),
    }
}

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// openat2: 0 not tried yet, 1 works, 2 the kernel lacks it.
static OPENAT2: AtomicU8 = AtomicU8::new(0);

/// Opens the directory `rel` beneath `root` with openat2, or None when
/// openat2 cannot answer (absent, filtered, or a path over its limit), so
/// the caller walks instead.
fn dir_openat2(root: BorrowedFd<'_>, rel: &str) -> Option<io::Result<OwnedFd>> {
    if OPENAT2.load(Ordering::Relaxed) == 2 {
        return None;
    }
    let how = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
    match rfs::openat2(root, rel, DIR_FLAGS, Mode::empty(), how) {
        Ok(fd) => {
            OPENAT2.store(1, Ordering::Relaxed);
            Some(Ok(fd))
        }
        Err(e)
            if e == Errno::NOSYS || (e == Errno::PERM && OPENAT2.load(Ordering::Relaxed) == 0) =>
        {
            // No openat2 here (an old kernel, or a seccomp filter that
            // does not know it): walk from now on.
            OPENAT2.store(2, Ordering::Relaxed);
            None
        }
        // A concurrent rename (EAGAIN), a path longer than PATH_MAX, flags
        // this kernel does not know: the walk gives the answer.
        Err(e)
            if e == Errno::AGAIN
                || e == Errno::NAMETOOLONG
                || e == Errno::INVAL
                || e == Errno::TOOBIG =>
        {
            None
        }
        Err(e) => Some(Err(explain(e))),
    }
}

/// Opens the directory `rel` beneath `dir` one name at a time, each with
/// `O_NOFOLLOW | O_DIRECTORY`; with `create`, missing ones are made with
/// `mkdirat` in their parent.
fn dir_walk(dir: BorrowedFd<'_>, rel: &str, create: bool) -> io::Result<OwnedFd> {
    let mut cur = rfs::openat(dir, c".", DIR_FLAGS, Mode::empty()).map_err(explain)?;
    if rel.is_empty() {
        return Ok(cur);
    }
    for name in names(rel)? {
        let next = match rfs::openat(&cur, name, DIR_FLAGS, Mode::empty()) {
            Err(e) if e == Errno::NOENT && create => {
                match rfs::mkdirat(&cur, name, Mode::from_bits_truncate(0o777)) {
                    Ok(()) => {}
                    Err(e) if e == Errno::EXIST => {}
                    Err(e) => return Err(explain(e)),
                }
                rfs::openat(&cur, name, DIR_FLAGS, Mode::empty())
            }
            other => other,
        };
        cur = next.map_err(explain)?;
    }
    Ok(cur)
}

/// Opens the existing directory `rel` beneath `dir` ("" is `dir` itself).
pub fn open_dir_at(dir: BorrowedFd<'_>, rel: &str, use_openat2: bool) -> io::Result<OwnedFd> {
    if rel.is_empty() {
        return dir_walk(dir, "", false);
    }
    names(rel)?.for_each(drop);
    if use_openat2 {
        if let Some(r) = dir_openat2(dir, rel) {
            return r;
        }
    }
    dir_walk(dir, rel, false)
}

/// `fstatat(AT_SYMLINK_NOFOLLOW)` of one name in `dir`; None when nothing
/// is there.
pub fn stat_at(dir: BorrowedFd<'_>, name: &str) -> io::Result<Option<Stat>> {
    match rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st)),
        Err(e) if e == Errno::NOENT => Ok(None),
        Err(e) => Err(io::Error::from(e)),
    }
}

/// Opens `name` in `dir` for reading if, and only if, it is a regular file
/// (and, with `expect`, still the file the caller saw). A symlink, FIFO,
/// socket or device file is refused without being opened; one swapped in
/// after that look is opened non-blocking and refused by `fstat`.
pub fn open_regular_at(
    dir: BorrowedFd<'_>,
    name: &str,
    expect: Option<&Expected>,
) -> io::Result<File> {
    let st = rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).map_err(io::Error::from)?;
    if let Some(why) = special(&st) {
        return Err(refused(why));
    }
    if is_dir(&st) {
        return Err(refused("is a directory"));
    }
    let fd = rfs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(explain)?;
    let now = rfs::fstat(&fd).map_err(io::Error::from)?;
    if let Some(why) = special(&now) {
        return Err(refused(why));
    }
    if !is_regular(&now) {
        return Err(refused("is not a regular file"));
    }
    let seen = expect.copied().unwrap_or(Expected {
        size: size_of(&now),
        mtime_ns: mtime_ns(&now),
        ..Expected::of(&st)
    });
    let got = Expected::of(&now);
    if got != seen {
        return Err(io::Error::new(
            io::ErrorKind::WouldBlock,
            "changed since it was looked at (it will be looked at again)",
        ));
    }
    Ok(File::from(fd))
}

/// Mode of temporary files: only this user reads them until they are
/// renamed into place.
const TMP_MODE: u32 = 0o600;

/// Creates `name` in `dir`: `O_CREAT | O_EXCL | O_NOFOLLOW`, mode 0600, so
/// nothing already there (a planted symlink above all) is ever written
/// through.
pub fn create_exclusive_at(dir: BorrowedFd<'_>, name: &str) -> io::Result<File> {
    let fd = rfs::openat(
        dir,
        name,
        OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_bits_truncate(TMP_MODE),
    )
    .map_err(explain)?;
    Ok(File::from(fd))
}

/// Opens the temporary file `name` in `dir` for a download: the one an
/// interrupted download left (to resume it) if it is a regular file owned
/// by this user with a single link; anything else there is unlinked and a
/// fresh file created exclusively. Returns the file and whether it is one
/// found again.
pub fn open_temp_at(dir: BorrowedFd<'_>, name: &str) -> io::Result<(File, bool)> {
    // Not a regular file (a symlink, FIFO, device file): removed unopened.
    if let Some(st) = stat_at(dir, name)? {
        if !is_regular(&st) {
            remove_at(dir, name).or_else(|_| {
                rfs::unlinkat(dir, name, AtFlags::REMOVEDIR).map_err(io::Error::from)
            })?;
        }
    }
    match rfs::openat(
        dir,
        name,
        OFlags::RDWR | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => {
            let st = rfs::fstat(&fd).map_err(io::Error::from)?;
            if is_regular(&st)
                && st.st_uid == rustix::process::geteuid().as_raw()
                && st.st_nlink == 1
            {
                return Ok((File::from(fd), true));
            }
            drop(fd);
            remove_at(dir, name)?;
        }
        Err(e) if e == Errno::NOENT => {}
        // A symlink (ELOOP), or something that cannot be opened for writing
        // (a directory, a FIFO without a reader): out of the way with it.
        Err(e) if e == Errno::LOOP || e == Errno::NXIO || e == Errno::ISDIR => {
            remove_at(dir, name).or_else(|_| {
                rfs::unlinkat(dir, name, AtFlags::REMOVEDIR).map_err(io::Error::from)
            })?;
        }
        Err(e) => return Err(io::Error::from(e)),
    }
    Ok((create_exclusive_at(dir, name)?, false))
}

/// Renames `from` to `to`, both in `dir`. Neither is followed if it is a
/// symlink: a symlink at `to` is replaced, not written through.
pub fn rename_at(dir: BorrowedFd<'_>, from: &str, to: &str) -> io::Result<()> {
    rfs::renameat(dir, from, dir, to).map_err(io::Error::from)
}

/// How `put_in_place` went.
#[derive(Debug, PartialEq, Eq)]
pub enum Put {
    /// `from` is at `to` now; nothing was there.
    New,
    /// `from` is at `to` now, and what `to` held is at `from`.
    Swapped,
    /// The file system cannot rename without replacing (no renameat2
    /// flags): nothing moved.
    Unsupported,
}

/// Puts `from` at `to`, both in `dir`, in one step that never destroys
/// what `to` held: a rename that refuses to replace, or, when `to` exists,
/// an exchange of the two names (renameat2 RENAME_NOREPLACE,
/// RENAME_EXCHANGE). The caller looks at the old file, now at `from`, and
/// either removes it or swaps it back (`exchange_at`): a write that landed
/// in it a moment before the swap is seen then, not lost.
pub fn put_in_place(dir: BorrowedFd<'_>, from: &str, to: &str) -> io::Result<Put> {
    match rfs::renameat_with(dir, from, dir, to, rfs::RenameFlags::NOREPLACE) {
        Ok(()) => Ok(Put::New),
        Err(e) if e == Errno::EXIST => {
            match rfs::renameat_with(dir, from, dir, to, rfs::RenameFlags::EXCHANGE) {
                Ok(()) => Ok(Put::Swapped),
                Err(e) if unsupported(e) => Ok(Put::Unsupported),
                Err(e) => Err(io::Error::from(e)),
            }
        }
        Err(e) if unsupported(e) => Ok(Put::Unsupported),
        Err(e) => Err(io::Error::from(e)),
    }
}

/// Swaps the names `a` and `b` in `dir` atomically (both must exist).
pub fn exchange_at(dir: BorrowedFd<'_>, a: &str, b: &str) -> io::Result<()> {
    rfs::renameat_with(dir, a, dir, b, rfs::RenameFlags::EXCHANGE).map_err(io::Error::from)
}

/// A renameat2 flag this kernel or file system does not take.
fn unsupported(e: Errno) -> bool {
    e == Errno::INVAL || e == Errno::NOSYS || e == Errno::OPNOTSUPP
}

/// Unlinks `name` in `dir` (a file, symlink or special file; never a
/// directory). Nothing there is fine.
pub fn remove_at(dir: BorrowedFd<'_>, name: &str) -> io::Result<()> {
    match rfs::unlinkat(dir, name, AtFlags::empty()) {
        Ok(()) => Ok(()),
        Err(e) if e == Errno::NOENT => Ok(()),
        Err(e) => Err(io::Error::from(e)),
    }
}

/// Space on the file system of `fd`: (bytes free for this user, bytes in
/// all).
pub fn space(fd: BorrowedFd<'_>) -> io::Result<(u64, u64)> {
    let s = rfs::fstatvfs(fd).map_err(io::Error::from)?;
    let unit = if s.f_frsize > 0 {
        s.f_frsize
    } else {
        s.f_bsize
    };
    Ok((
        s.f_bavail.saturating_mul(unit),
        s.f_blocks.saturating_mul(unit),
    ))
}

/// The space kept free on a file system of `total` bytes: 1% of it or
/// 64 MiB, whichever is larger.
pub fn reserve(total: u64) -> u64 {
    (total / 100).max(64 << 20)
}

/// Whether writing `size` more bytes onto a file system with `free` of
/// `total` bytes free still leaves the reserve free.
pub fn fits(free: u64, total: u64, size: u64) -> bool {
    free.checked_sub(size)
        .is_some_and(|left| left >= reserve(total))
}

impl Root {
    /// Opens a folder's root (a canonical path, so `O_NOFOLLOW` only
    /// refuses a root that was replaced by a symlink since).
    pub fn open(path: &Path) -> io::Result<Root> {
        let fd = rfs::open(path, DIR_FLAGS, Mode::empty()).map_err(explain)?;
        Ok(Root {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// The root's path, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `rel`'s full path, for messages only (never opened by this name).
    pub fn show(&self, rel: &str) -> String {
        self.path.join(rel).display().to_string()
    }

    /// The root's handle.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Opens the existing directory `rel` ("" for the root).
    pub fn dir(&self, rel: &str) -> io::Result<OwnedFd> {
        open_dir_at(self.fd(), rel, true)
    }

    /// Opens the directory `rel`, creating what is missing of it, each
    /// directory in its parent.
    pub fn create_dir_all(&self, rel: &str) -> io::Result<OwnedFd> {
        match self.dir(rel) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => dir_walk(self.fd(), rel, true),
            other => other,
        }
    }

    /// What is at `rel`, not following a symlink anywhere; None when
    /// nothing is there, or a parent is missing, not a directory or a
    /// symlink (nothing Harp would reach).
    pub fn lstat(&self, rel: &str) -> io::Result<Option<Stat>> {
        let (parent, name) = split(rel);
        names(rel)?.for_each(drop);
        let dir = match self.dir(parent) {
            Ok(d) => d,
            Err(e) if unreachable_parent(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        stat_at(dir.as_fd(), name)
    }

    /// Opens the regular file `rel` for reading (see `open_regular_at`).
    pub fn open_regular(&self, rel: &str, expect: Option<&Expected>) -> io::Result<File> {
        let (parent, name) = split(rel);
        names(rel)?.for_each(drop);
        let dir = self.dir(parent)?;
        open_regular_at(dir.as_fd(), name, expect)
    }
}

/// Whether resolving a parent failed because there is no directory Harp
/// may enter there (missing, a file, a symlink).
fn unreachable_parent(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
        || e.kind() == io::ErrorKind::Other
        || e.raw_os_error() == Some(libc::ENOTDIR)
        || e.raw_os_error() == Some(libc::ELOOP)
}

/// The names in a directory (not `.` or `..`), as raw bytes when they are
/// not UTF-8.
pub fn read_names(dir: &OwnedFd) -> io::Result<Vec<Result<String, Vec<u8>>>> {
    let dup = rfs::openat(dir, c".", DIR_FLAGS, Mode::empty()).map_err(io::Error::from)?;
    let mut out = Vec::new();
    for de in rfs::Dir::new(dup).map_err(io::Error::from)? {
        let de = de.map_err(io::Error::from)?;
        let name: &CStr = de.file_name();
        let bytes = name.to_bytes();
        if bytes == b"." || bytes == b".." {
            continue;
        }
        out.push(match std::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_string()),
            Err(_) => Err(bytes.to_vec()),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::fs::symlink;
    use std::time::{Duration, Instant};

    fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        let outside = t.path().join("outside");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("secret"), "outside").unwrap();
        std::fs::write(root.join("sub/in.txt"), "inside").unwrap();
        symlink(&outside, root.join("home")).unwrap();
        symlink(outside.join("secret"), root.join("link.txt")).unwrap();
        (t, root, outside)
    }

    #[test]
    fn a_symlinked_directory_is_never_entered_with_or_without_openat2() {
        let (_t, root, _) = setup();
        let r = Root::open(&root).unwrap();
        for use2 in [true, false] {
            assert!(open_dir_at(r.fd(), "sub", use2).is_ok());
            assert!(open_dir_at(r.fd(), "home", use2).is_err(), "openat2 {use2}");
            assert!(open_dir_at(r.fd(), "home/x", use2).is_err());
            assert!(open_dir_at(r.fd(), "../outside", use2).is_err());
            assert!(open_dir_at(r.fd(), "sub/../../outside", use2).is_err());
        }
        assert!(r.open_regular("home/secret", None).is_err());
        assert!(r.open_regular("link.txt", None).is_err());
        assert!(r.lstat("home/secret").unwrap().is_none());
        let mut s = String::new();
        r.open_regular("sub/in.txt", None)
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, "inside");
        // Creating beneath a symlinked directory fails and writes nothing.
        assert!(r.create_dir_all("home/.ssh").is_err());
        assert!(!root.join("home/.ssh").exists());
        assert!(r.create_dir_all("a/b/c").is_ok());
        assert!(root.join("a/b/c").is_dir());
    }

    #[test]
    fn a_fifo_is_refused_at_once_not_opened_in_blocking_mode() {
        let (_t, root, _) = setup();
        let fifo = root.join("sub/pipe");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            FileType::Fifo,
            Mode::from_bits_truncate(0o644),
            0,
        )
        .unwrap();
        let r = Root::open(&root).unwrap();
        let t0 = Instant::now();
        let e = r.open_regular("sub/pipe", None).unwrap_err();
        assert!(e.to_string().contains("FIFO"), "{e}");
        // Also when it was swapped in after the walk saw a regular file.
        let dir = r.dir("sub").unwrap();
        let fake = Expected {
            dev: 0,
            ino: 0,
            size: 0,
            mtime_ns: 0,
        };
        assert!(open_regular_at(dir.as_fd(), "pipe", Some(&fake)).is_err());
        assert!(t0.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn a_file_changed_since_it_was_seen_is_refused() {
        let (_t, root, _) = setup();
        let r = Root::open(&root).unwrap();
        let st = r.lstat("sub/in.txt").unwrap().unwrap();
        let seen = Expected::of(&st);
        assert!(r.open_regular("sub/in.txt", Some(&seen)).is_ok());
        std::fs::write(root.join("sub/in.txt"), "inside, longer now").unwrap();
        assert!(r.open_regular("sub/in.txt", Some(&seen)).is_err());
    }

    #[test]
    fn a_planted_symlink_at_the_temp_name_is_replaced_not_written_through() {
        let (_t, root, outside) = setup();
        symlink(outside.join("secret"), root.join("sub/.harp-tmp-x.part")).unwrap();
        let r = Root::open(&root).unwrap();
        let dir = r.dir("sub").unwrap();
        assert!(create_exclusive_at(dir.as_fd(), ".harp-tmp-x.part").is_err());
        let (mut f, resumed) = open_temp_at(dir.as_fd(), ".harp-tmp-x.part").unwrap();
        assert!(!resumed);
        f.write_all(b"new").unwrap();
        assert_eq!(std::fs::read(outside.join("secret")).unwrap(), b"outside");
        let st = r.lstat("sub/.harp-tmp-x.part").unwrap().unwrap();
        assert!(is_regular(&st));
        assert_eq!(st.st_mode & 0o777, 0o600);
        // Found again: resumed.
        drop(f);
        let (_, resumed) = open_temp_at(dir.as_fd(), ".harp-tmp-x.part").unwrap();
        assert!(resumed);
        // A hard link to a file elsewhere is not resumed into.
        std::fs::remove_file(root.join("sub/.harp-tmp-x.part")).unwrap();
        std::fs::hard_link(outside.join("secret"), root.join("sub/.harp-tmp-x.part")).unwrap();
        let (mut f, resumed) = open_temp_at(dir.as_fd(), ".harp-tmp-x.part").unwrap();
        assert!(!resumed);
        f.write_all(b"x").unwrap();
        assert_eq!(std::fs::read(outside.join("secret")).unwrap(), b"outside");
        // A FIFO there is removed unopened, without blocking.
        rustix::fs::mknodat(
            dir.as_fd(),
            ".harp-tmp-y.part",
            FileType::Fifo,
            Mode::from_bits_truncate(0o644),
            0,
        )
        .unwrap();
        let (_, resumed) = open_temp_at(dir.as_fd(), ".harp-tmp-y.part").unwrap();
        assert!(!resumed);
        assert!(is_regular(
            &r.lstat("sub/.harp-tmp-y.part").unwrap().unwrap()
        ));
    }

    #[test]
    fn the_reserve_is_one_percent_or_64_mib() {
        let gib = 1u64 << 30;
        assert_eq!(reserve(gib), 64 << 20);
        assert_eq!(reserve(100 * gib), gib);
        assert!(fits(200 << 20, gib, 100 << 20));
        assert!(!fits(200 << 20, gib, 150 << 20), "would leave 50 MiB");
        assert!(!fits(10, gib, 20));
        assert!(fits(2 * gib, 100 * gib, gib));
        assert!(!fits(2 * gib, 100 * gib, gib + 1));
    }
}
