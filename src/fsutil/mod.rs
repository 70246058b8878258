//! Small file-system helpers shared by the modules that write to disk.
//! Everything inside a synced folder goes through `beneath`.

pub mod beneath;

use std::fs;
use std::path::Path;

use crate::error::{HarpError, Result};

/// fsyncs a directory, so a rename or a new file in it survives a crash.
pub fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| HarpError::storage(format!("syncing directory {}", dir.display()), e))
}

/// Flushes every file system that holds one of `dirs` to disk (syncfs):
/// one call makes a whole batch of written files, or of renames, durable.
pub fn sync_filesystems<'a>(dirs: impl IntoIterator<Item = &'a Path>) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    use std::os::unix::io::AsRawFd;
    let mut done = std::collections::HashSet::new();
    for dir in dirs {
        let d = fs::File::open(dir)
            .map_err(|e| HarpError::storage(format!("opening {}", dir.display()), e))?;
        let dev = d
            .metadata()
            .map_err(|e| HarpError::storage(format!("reading {}", dir.display()), e))?
            .dev();
        if done.insert(dev) {
            // SAFETY: syncfs takes a file descriptor that `d` keeps open.
            if unsafe { libc::syncfs(d.as_raw_fd()) } != 0 {
                return Err(HarpError::storage(
                    format!("syncing the file system of {}", dir.display()),
                    std::io::Error::last_os_error(),
                ));
            }
        }
    }
    Ok(())
}

/// `sync_filesystems` for directories already open: one syncfs per file
/// system among them.
pub fn sync_filesystems_of<'a>(
    dirs: impl IntoIterator<Item = (&'a std::os::fd::OwnedFd, &'a str)>,
) -> Result<()> {
    let mut done = std::collections::HashSet::new();
    for (fd, name) in dirs {
        let dev = rustix::fs::fstat(fd)
            .map_err(|e| HarpError::storage(format!("reading {name}"), std::io::Error::from(e)))?
            .st_dev;
        if done.insert(dev) {
            rustix::fs::syncfs(fd).map_err(|e| {
                HarpError::storage(
                    format!("syncing the file system of {name}"),
                    std::io::Error::from(e),
                )
            })?;
        }
    }
    Ok(())
}

/// Creates the state directory (mode 0700) if it does not exist, and checks
/// that it is a writable directory. Returns its canonical path.
pub fn prepare_state_dir(dir: &Path) -> Result<std::path::PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.as_os_str().is_empty() {
        return Err(HarpError::Config(
            "no state directory given: pass one, or set harp.state_dir in php.ini".into(),
        ));
    }
    if !dir.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| {
                HarpError::Config(format!(
                    "cannot create state directory {}: {e}",
                    dir.display()
                ))
            })?;
    }
    let canon = dir
        .canonicalize()
        .map_err(|e| HarpError::Config(format!("state directory {}: {e}", dir.display())))?;
    if !canon.is_dir() {
        return Err(HarpError::Config(format!(
            "state directory {} is not a directory",
            canon.display()
        )));
    }
    Ok(canon)
}
