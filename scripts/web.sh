#!/usr/bin/env bash
# The browser build: compiles gradscope for wasm32 (WebGPU) and writes the static site (index.html, the
# wasm and its JS glue) into target/web/site, which any static file server can serve.
#   bash scripts/web.sh build          build the site
#   bash scripts/web.sh serve [PORT]   build it, then serve it on http://127.0.0.1:PORT (default 8080)
# It installs what it needs: the wasm32 target (rustup) and wasm-bindgen-cli at the version of the
# wasm-bindgen crate in Cargo.lock (the two must match), built into target/web/tools.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
site="$root/target/web/site"
tools="$root/target/web/tools"

build() {
    rustup target list --installed | grep -qx wasm32-unknown-unknown ||
        rustup target add wasm32-unknown-unknown
    local version
    version="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)"
    [ -n "$version" ] || { echo "wasm-bindgen is not in Cargo.lock" >&2; exit 1; }
    local bindgen="$tools/bin/wasm-bindgen"
    if ! { [ -x "$bindgen" ] && "$bindgen" --version | grep -q " $version\$"; }; then
        if command -v wasm-bindgen >/dev/null && wasm-bindgen --version | grep -q " $version\$"; then
            bindgen="$(command -v wasm-bindgen)"
        else
            echo "installing wasm-bindgen-cli $version (a few minutes, once)" >&2
            cargo install --quiet --root "$tools" wasm-bindgen-cli --version "$version"
        fi
    fi
    cargo build --release -p gradscope-web --target wasm32-unknown-unknown
    rm -rf "$site"
    mkdir -p "$site"
    "$bindgen" --target web --no-typescript --out-dir "$site" \
        target/wasm32-unknown-unknown/release/gradscope_web.wasm
    cp web/index.html "$site/"
    echo "$site"
}

case "${1:-build}" in
    build) build ;;
    serve)
        build
        port="${2:-8080}"
        echo "gradscope: open http://127.0.0.1:$port/ in a browser with WebGPU (Ctrl+C stops)" >&2
        cd "$site" && exec python3 -m http.server "$port" --bind 127.0.0.1
        ;;
    *) echo "usage: bash scripts/web.sh build | serve [PORT]" >&2; exit 2 ;;
esac
