# shellcheck shell=bash disable=SC2034  # sets globals (BUILT_SO, PHP_CONFIGS, ...) for the scripts
# Shared by the scripts in this folder: installs what Harp needs on Debian 12,
# quietly and only when missing. Source it; do not run it.
set -euo pipefail

HARP_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CARGO_PHP_VERSION=0.2.2

log() { printf '\033[1m==> %s\033[0m\n' "$*"; }

need_root() {
    if [ "$(id -u)" != 0 ]; then
        echo "This step installs packages and the extension: run it as root (sudo $0)." >&2
        exit 1
    fi
}

# ensure_packages PKG...: apt-get install the ones that are not installed yet.
ensure_packages() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        need_root
        log "installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

ensure_rust() {
    export PATH="$HOME/.cargo/bin:$PATH"
    if ! command -v cargo >/dev/null; then
        echo "cargo is missing: install Rust (https://rustup.rs) and run this again." >&2
        exit 1
    fi
}

ensure_cargo_php() {
    if ! cargo php --version 2>/dev/null | grep -q "$CARGO_PHP_VERSION"; then
        log "installing cargo-php $CARGO_PHP_VERSION (generates the PHP stubs)"
        cargo install cargo-php --version "$CARGO_PHP_VERSION" --locked --quiet
    fi
}

# jsdom, for the admin page's JavaScript test (php-app/tests/js), from the
# npm registry into a cache outside the clone; exports HARP_NODE_MODULES.
ensure_jsdom() {
    local dir=/var/cache/harp-test/node
    if [ ! -f "$dir/node_modules/jsdom/package.json" ]; then
        command -v npm >/dev/null || ensure_packages nodejs npm
        log "installing jsdom (npm) into $dir"
        mkdir -p "$dir"
        npm install --prefix "$dir" jsdom@24 --no-audit --no-fund --silent >/dev/null
    fi
    export HARP_NODE_MODULES="$dir/node_modules"
}

# The packages every script needs: PHP 8.2 with headers (ext-php-rs builds
# against them), libclang (bindgen), php-fpm (the process-model tests).
ensure_build_deps() {
    ensure_packages php8.2-cli php8.2-dev php8.2-fpm libclang-dev clang pkg-config
    ensure_rust
}

# The ini that enables the extension (scripts/install and the php8.x-harp
# packages write it as /etc/php/X.Y/mods-available/harp.ini).
harp_ini() {
    cat <<'INI'
; Harp: peer-to-peer folder sync. See README.md.
; priority=50
extension=harp.so
; harp.state_dir =           ; default state directory for Harp\Node and Harp\Client
; harp.listen = 0.0.0.0:4433 ; QUIC listen address of the node
; harp.mdns = 1              ; announce and find peers on the LAN
; harp.name =                ; this device's name (default: the host name)
; harp.notify_fsync = 0      ; 1: every notify waits for the disk (survives power loss)
INI
}

# harp_version: the version in Cargo.toml.
harp_version() {
    sed -n 's/^version = "\(.*\)"$/\1/p' "$HARP_ROOT/Cargo.toml" | head -n1
}

# find_php_configs [PHP_CONFIG...]: sets PHP_CONFIGS to the ones given, else
# to each php-config8.x found (8.2-8.4), else to php-config.
find_php_configs() {
    PHP_CONFIGS=("$@")
    [ "${#PHP_CONFIGS[@]}" = 0 ] || return 0
    local v
    for v in 8.2 8.3 8.4; do
        command -v "php-config$v" >/dev/null && PHP_CONFIGS+=("$(command -v "php-config$v")")
    done
    [ "${#PHP_CONFIGS[@]}" = 0 ] || return 0
    command -v php-config >/dev/null || {
        echo "No php-config found: install your PHP's development package (Debian, Ubuntu: php8.x-dev) and run this again." >&2
        exit 1
    }
    PHP_CONFIGS=("$(command -v php-config)")
}

# php_version PHP_CONFIG: sets PHP_FULL (8.2.28) and PHP_VER (8.2); exits
# unless it runs. Returns 1 (with a note) for a PHP Harp does not support.
php_version() {
    if ! PHP_FULL="$("$1" --version 2>/dev/null)"; then
        echo "$1 is not a php-config that runs (each PHP's is in its php8.x-dev package)." >&2
        exit 1
    fi
    PHP_VER="$(echo "$PHP_FULL" | cut -d. -f1,2)"
    case "$PHP_VER" in
        8.2|8.3|8.4) ;;
        *) echo "$1 is PHP $PHP_FULL: Harp supports PHP 8.2 to 8.4; skipped." >&2; return 1 ;;
    esac
}

# build_extension PHP_CONFIG: builds harp.so in release mode for that PHP
# and sets BUILT_SO to it. The PHP that `php-config` names builds in
# target/ (as the tests and the demo do); any other in target/phpX.Y/.
build_extension() {
    local pc="$1" ver target env=()
    ver="$("$pc" --version | cut -d. -f1,2)"
    ensure_packages libclang-dev clang pkg-config
    ensure_rust
    if [ "$(php-config --extension-dir 2>/dev/null || true)" = "$("$pc" --extension-dir)" ]; then
        target="${CARGO_TARGET_DIR:-$HARP_ROOT/target}"
    else
        target="${CARGO_TARGET_DIR:-$HARP_ROOT/target}/php$ver"
        env=(PHP="$("$pc" --php-binary)" PHP_CONFIG="$pc")
    fi
    log "building harp.so (release) for PHP $("$pc" --version)"
    (cd "$HARP_ROOT" && env "${env[@]}" CARGO_TARGET_DIR="$target" cargo build --release --features php --quiet)
    BUILT_SO="$target/release/libharp.so"
}
