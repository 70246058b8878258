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
