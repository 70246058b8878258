//! Where a synced folder may be. Every trusted device can write, overwrite
//! and delete files in a synced folder, and everything in it is published
//! to every peer; so a folder may not hold Harp's own state directory (a
//! scan would publish `device.key` to every peer), lie inside it, or be a
//! system directory (`/`, `/etc`, `/usr`, ...) where a peer's file is a
//! way into the machine. Paths are compared canonically: symlinks and `..`
//! resolved, so `/srv/x/../../etc` and a symlink to `/etc` are `/etc`.

use std::path::{Component, Path, PathBuf};

use crate::error::{HarpError, Result};

/// System directories no folder may be, lie in or contain: the machine's
/// configuration, programs, libraries, kernel interfaces and the cron
/// spool. (A folder containing one of them is `/` or `/var`, both below.)
const SYSTEM_TREES: &[&str] = &[
    "/etc",
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/boot",
    "/dev",
    "/proc",
    "/sys",
    "/run",
    "/var/spool",
];

/// Directories no folder may be, though one may lie beneath them: a
/// folder under /home/alice, /srv or /var/lib/nextcloud/data is fine,
/// /home itself is not.
const SYSTEM_ROOTS: &[&str] = &[
    "/", "/home", "/root", "/var", "/var/lib", "/var/log", "/var/tmp", "/srv", "/opt", "/mnt",
    "/media", "/tmp",
];

/// Where `path` is, canonically, whether it exists yet or not: its longest
/// existing ancestor resolved by the file system (symlinks included), the
/// rest lexically (`..` pops). Done twice, since a `..` in the part that
/// does not exist can lead back into a part that does, and may cross a
/// symlink there.
pub fn resolve(path: &Path) -> Result<PathBuf> {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| HarpError::Config(format!("folder {}: {e}", path.display())))?
            .join(path)
    };
    let once = resolve_once(&abs);
    Ok(resolve_once(&once))
}

fn resolve_once(abs: &Path) -> PathBuf {
    let parts: Vec<Component<'_>> = abs.components().collect();
    for i in (1..=parts.len()).rev() {
        let prefix: PathBuf = parts[..i].iter().collect();
        let Ok(mut out) = prefix.canonicalize() else {
            continue;
        };
        for c in &parts[i..] {
            match c {
                Component::Normal(name) => out.push(name),
                Component::ParentDir => {
                    out.pop();
                }
                Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
            }
        }
        return out;
    }
    abs.to_path_buf()
}

/// A path as the file system resolves it, or as given when it does not
/// exist (`/lib` is `/usr/lib` on a merged-/usr system).
fn canonical(p: &str) -> Vec<PathBuf> {
    let raw = PathBuf::from(p);
    match raw.canonicalize() {
        Ok(c) if c != raw => vec![raw, c],
        _ => vec![raw],
    }
}

/// Whether the folder at canonical path `folder` may be synced by a node
/// whose state directory is `state_dir`. The error says why not and what to
/// do instead.
pub fn check(folder: &Path, state_dir: &Path) -> Result<()> {
    let system = |what: &str, sys: &Path| {
        HarpError::Config(format!(
            "folder {} {what} the system directory {}: every trusted device could write \
             there. Choose a directory of its own, such as /srv/harp/<folder> or one under \
             /home/<user>",
            folder.display(),
            sys.display()
        ))
    };
    for sys in SYSTEM_TREES.iter().flat_map(|p| canonical(p)) {
        if folder == sys {
            return Err(system("is", &sys));
        }
        if folder.starts_with(&sys) {
            return Err(system("lies inside", &sys));
        }
        if sys.starts_with(folder) {
            return Err(system("contains", &sys));
        }
    }
    for sys in SYSTEM_ROOTS.iter().flat_map(|p| canonical(p)) {
        if folder == sys {
            return Err(system("is", &sys));
        }
    }
    let state = state_dir
        .canonicalize()
        .unwrap_or_else(|_| state_dir.to_path_buf());
    if state.starts_with(folder) {
        return Err(HarpError::Config(format!(
            "folder {} {} Harp's state directory {}: a scan would publish the device key \
             and the store to every peer. Choose a folder that does not contain it, or move \
             the state directory (harp.state_dir) out of it",
            folder.display(),
            if state == folder { "is" } else { "contains" },
            state.display()
        )));
    }
    if folder.starts_with(&state) {
        return Err(HarpError::Config(format!(
            "folder {} lies inside Harp's state directory {}; choose a folder outside it",
            folder.display(),
            state.display()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(folder: &Path, state: &Path) -> String {
        let f = resolve(folder).unwrap();
        match check(&f, state) {
            Err(e) => {
                assert_eq!(e.kind(), "config");
                e.to_string()
            }
            Ok(()) => panic!("{} ({}) was accepted", folder.display(), f.display()),
        }
    }

    #[test]
    fn the_state_directory_its_parents_and_what_lies_inside_it_are_refused() {
        let t = tempfile::tempdir().unwrap();
        let state = t.path().join("srv/harp-state");
        std::fs::create_dir_all(&state).unwrap();
        let e = refused(&state, &state);
        assert!(e.contains("is Harp's state directory"), "{e}");
        assert!(e.contains("device key"), "{e}");
        let e = refused(&t.path().join("srv"), &state);
        assert!(e.contains("contains Harp's state directory"), "{e}");
        refused(t.path(), &state);
        let e = refused(&state.join("sub/new"), &state);
        assert!(e.contains("inside Harp's state directory"), "{e}");
        // Through `..` and through a symlink.
        refused(&t.path().join("srv/x/../harp-state/../.."), &state);
        std::os::unix::fs::symlink(&state, t.path().join("link")).unwrap();
        refused(&t.path().join("link"), &state);
        // A sibling is fine.
        let ok = resolve(&t.path().join("srv/docs")).unwrap();
        check(&ok, &state).unwrap();
        assert!(!ok.exists(), "checking creates nothing");
    }

    #[test]
    fn system_directories_are_refused_and_folders_under_homes_and_srv_are_not() {
        let t = tempfile::tempdir().unwrap();
        let state = t.path().join("state");
        std::fs::create_dir_all(&state).unwrap();
        for p in [
            "/", "/etc", "/etc/", "/usr", "/var/lib", "/bin", "/boot", "/dev", "/proc", "/sys",
            "/root", "/var", "/home", "/srv", "/tmp",
        ] {
            let e = refused(Path::new(p), &state);
            assert!(e.contains("system directory"), "{p}: {e}");
            assert!(e.contains("/srv/harp/"), "says what to do: {e}");
        }
        // Inside a system tree, existing or not, however it is spelled.
        for p in [
            "/etc/nginx",
            "/etc/harp-never-created/x",
            "/usr/local/bin",
            "/srv/x/../../etc",
            "/lib/x",
        ] {
            let e = refused(Path::new(p), &state);
            assert!(e.contains("system directory"), "{p}: {e}");
        }
        assert!(!Path::new("/etc/harp-never-created").exists());
        std::os::unix::fs::symlink("/etc", t.path().join("etc-link")).unwrap();
        refused(&t.path().join("etc-link"), &state);
        refused(&t.path().join("etc-link/sub"), &state);
        for p in [
            "/home/alice/docs",
            "/home/alice",
            "/srv/office",
            "/var/lib/nextcloud/data",
            "/root/docs",
        ] {
            let f = resolve(Path::new(p)).unwrap();
            check(&f, &state).unwrap_or_else(|e| panic!("{p}: {e}"));
        }
    }
}
