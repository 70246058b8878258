//! The PHP bindings: everything that imports `ext_php_rs` lives in this
//! folder, one file per class. `get_module` only registers; MINIT registers
//! the INI settings and the classes and starts nothing (no thread, socket
//! or runtime), because PHP-FPM forks its workers after MINIT.

mod chain;
mod client;
mod convert;
mod event;
mod exceptions;
mod ini;
mod node;

use std::panic::{catch_unwind, AssertUnwindSafe};

use ext_php_rs::prelude::*;
use ext_php_rs::zend::{IniEntryDef, ModuleEntry};
use ext_php_rs::{info_table_end, info_table_row, info_table_start};

/// Which state directories this process owns, for `php --ri harp`.
mod registry {
    use std::path::{Path, PathBuf};

    use parking_lot::Mutex;

    static OWNED: Mutex<Vec<(PathBuf, u32)>> = Mutex::new(Vec::new());

    /// Notes that this process owns `dir`.
    pub fn add(dir: &Path) {
        OWNED.lock().push((dir.to_path_buf(), std::process::id()));
    }

    /// Notes that this process no longer owns `dir`.
    pub fn remove(dir: &Path) {
        OWNED.lock().retain(|(d, _)| d != dir);
    }

    /// Whether this very process (not a parent it was forked from) owns `dir`.
    pub fn owns(dir: &Path) -> bool {
        let pid = std::process::id();
        OWNED.lock().iter().any(|(d, p)| d == dir && *p == pid)
    }
}

fn startup(_ty: i32, module_number: i32) -> i32 {
    match catch_unwind(|| IniEntryDef::register(ini::ENTRIES.as_slice(), module_number)) {
        Ok(_) => 0,
        Err(_) => -1,
    }
}

extern "C" fn info(_module: *mut ModuleEntry) {
    // Not covered by ext-php-rs's panic guard: never let a panic out.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        let state_dir = ini::get(ini::STATE_DIR);
        let (role, owner) = describe_state_dir(&state_dir);
        info_table_start!();
        info_table_row!("harp support", "enabled");
        info_table_row!("version", crate::VERSION);
        info_table_row!(
            "build",
            if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            }
        );
        info_table_row!(
            "state directory",
            if state_dir.is_empty() {
                "(not set: pass one to Harp\\Node / Harp\\Client)"
            } else {
                state_dir.as_str()
            }
        );
        info_table_row!("this process", role.as_str());
        info_table_row!("owner process", owner.as_str());
        info_table_end!();
        // main/php_ini.h: void display_ini_entries(zend_module_entry *module);
        // Looked up at run time (see `ini::php_symbol`).
        type DisplayIni = unsafe extern "C" fn(*mut ModuleEntry);
        // SAFETY: the symbol, if PHP exports it, has exactly this signature.
        if let Some(f) = unsafe { ini::php_symbol::<DisplayIni>(c"display_ini_entries") } {
            // SAFETY: prints the INI entries registered by this module;
            // called by the engine with the module's own entry.
            unsafe { f(_module) };
        }
    }));
}

/// (this process's role, the owner) for the INI state directory.
fn describe_state_dir(dir: &str) -> (String, String) {
    if dir.is_empty() {
        return ("client".into(), "unknown (no state directory)".into());
    }
    let path = std::path::Path::new(dir);
    let canon = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    if registry::owns(&canon) {
        return (
            "owner".into(),
            format!("this process (pid {})", std::process::id()),
        );
    }
    let owner = match crate::owner::lock::probe(&canon) {
        Ok(crate::owner::lock::Ownership::Owned(pid)) => format!("pid {pid}"),
        Ok(crate::owner::lock::Ownership::Free) => "none running".into(),
        Err(e) => format!("unknown ({e})"),
    };
    ("client".into(), owner)
}

/// Registers the module: INI settings in MINIT, the classes, the info table.
#[php_module]
#[php(startup = startup)]
pub fn get_module(module: ModuleBuilder) -> ModuleBuilder {
    module
        .name("harp")
        .version(crate::VERSION)
        .class::<exceptions::HarpException>()
        .class::<exceptions::AlreadyRunningException>()
        .class::<exceptions::NotRunningException>()
        .class::<exceptions::InvalidPathException>()
        .class::<exceptions::UntrustedPeerException>()
        .class::<exceptions::StorageException>()
        .class::<exceptions::ProtocolException>()
        .class::<exceptions::ConfigException>()
        .class::<event::Event>()
        .class::<chain::Chain>()
        .class::<client::Client>()
        .class::<node::Node>()
        .info_function(info)
}
