//! The INI settings, registered in MINIT and read when a class needs a
//! default. `php --ri harp` lists them.

use std::ffi::{c_char, c_int, CStr};

use ext_php_rs::flags::IniEntryPermission;
use ext_php_rs::zend::{IniEntryDef, IniEntryDefs};

/// State directory used when a constructor is given none.
pub const STATE_DIR: &CStr = c"harp.state_dir";
/// QUIC listen address of the node.
pub const LISTEN: &CStr = c"harp.listen";
/// Whether the node announces and browses on mDNS (1 or 0).
pub const MDNS: &CStr = c"harp.mdns";
/// The device's human name shown to peers (defaults to the host name).
pub const NAME: &CStr = c"harp.name";
/// Whether every notify waits for the disk (1) or only for the kernel (0).
pub const NOTIFY_FSYNC: &CStr = c"harp.notify_fsync";

/// Every setting with its default, in the order `php --ri harp` lists them.
pub static ENTRIES: IniEntryDefs<6> = IniEntryDefs::new([
    IniEntryDef::new(STATE_DIR, c"", IniEntryPermission::All),
    IniEntryDef::new(LISTEN, c"0.0.0.0:4433", IniEntryPermission::All),
    IniEntryDef::new(MDNS, c"1", IniEntryPermission::All),
    IniEntryDef::new(NAME, c"", IniEntryPermission::All),
    IniEntryDef::new(NOTIFY_FSYNC, c"0", IniEntryPermission::All),
    IniEntryDef::end(),
]);

/// Looks up a function that the PHP binary exports but ext-php-rs does not
/// bind. Resolving it at run time instead of at link time keeps the `.so`
/// loadable by `cargo php stubs`, which provides only ext-php-rs's symbols.
///
/// # Safety
/// `F` must be an `extern "C"` function pointer type matching the symbol.
pub unsafe fn php_symbol<F: Copy>(name: &CStr) -> Option<F> {
    // SAFETY: dlsym with RTLD_DEFAULT searches the already loaded objects.
    let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
    if p.is_null() || std::mem::size_of::<F>() != std::mem::size_of::<*mut libc::c_void>() {
        return None;
    }
    // SAFETY: the caller guarantees `F` is the symbol's function type, and
    // the sizes match.
    Some(unsafe { std::mem::transmute_copy::<*mut libc::c_void, F>(&p) })
}

// PHP 8.2: ZEND_API char *zend_ini_string_ex(const char *name,
//   size_t name_length, int orig, bool *exists);
type IniStringEx = unsafe extern "C" fn(*const c_char, usize, c_int, *mut bool) -> *mut c_char;

/// The current value of a setting, as `ini_get()` would return it.
pub fn get(name: &CStr) -> String {
    // SAFETY: the symbol has this signature in PHP 8.2.
    let Some(ini_string_ex) = (unsafe { php_symbol::<IniStringEx>(c"zend_ini_string_ex") }) else {
        return String::new();
    };
    let mut exists = false;
    // SAFETY: called on the PHP thread after MINIT; `name` is a valid C
    // string and its length excludes the NUL, as the engine expects. The
    // returned pointer is owned by the engine and copied at once.
    let ptr = unsafe { ini_string_ex(name.as_ptr(), name.count_bytes(), 0, &raw mut exists) };
    if ptr.is_null() || !exists {
        return String::new();
    }
    // SAFETY: a non-null result is a NUL-terminated string owned by the engine.
    unsafe { CStr::from_ptr(ptr) }
        .to_string_lossy()
        .into_owned()
}

/// A boolean setting: "1", "on", "yes", "true" (any case) are true.
pub fn get_bool(name: &CStr) -> bool {
    matches!(
        get(name).trim().to_ascii_lowercase().as_str(),
        "1" | "on" | "yes" | "true"
    )
}
