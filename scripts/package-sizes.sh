#!/usr/bin/env bash
# Release packages as Lambda runs them: cross-builds the three functions for arm64 in the
# release profile with cargo-lambda (`cargo lambda build --release --arm64 --output-format zip`),
# prints each zipped bootstrap's size and fails if one is over the limit.
#
# Usage: scripts/package-sizes.sh
# Environment:
#   CDC_ARM64_TARGET_DIR  the cross-build's target dir (default ~/.cache/ddb-cdc-arm64-target,
#                         shared with scripts/test's dev-profile arm64 build: other profile,
#                         other subfolder); the zips land in its lambda/FUNCTION/bootstrap.zip
#   CDC_PACKAGE_LIMIT_BYTES  the limit per zip (default 8000000, 8 MB)
#   CDC_TOOLS_DIR         where scripts/emulators.sh keeps the pinned cargo-lambda venv
#
# Slow: a release build with thin LTO and one codegen unit, from scratch about 20 minutes on
# two cores (docs/BENCHMARKS.md, "Package size"). Not part of CI; CI checks the arm64
# cross-build in the dev profile.
set -euo pipefail
cd "$(dirname "$0")/.."

readonly FUNCTIONS=(stream-handler export-trigger export-processor)
readonly LIMIT=${CDC_PACKAGE_LIMIT_BYTES:-8000000}
TARGET_DIR=${CDC_ARM64_TARGET_DIR:-$HOME/.cache/ddb-cdc-arm64-target}
readonly TARGET_DIR

[[ "$LIMIT" =~ ^[0-9]+$ ]] || { echo "package-sizes: CDC_PACKAGE_LIMIT_BYTES=$LIMIT is not a number of bytes" >&2; exit 2; }

# The aarch64 standard library (rustup downloads it once) and cargo-lambda with its zig,
# pinned, from the venv scripts/emulators.sh installs.
rustup target add aarch64-unknown-linux-gnu >&2
TOOLS_BIN=$(bash scripts/emulators.sh --tools-bin)
export PATH="$TOOLS_BIN:$PATH"

# A zip that holds one file, bootstrap, an aarch64 ELF (e_machine 183), as Lambda's
# provided.al2023 runtime on arm64 runs it.
holds_arm64_bootstrap() { # ZIP
    python3 - "$1" <<'PY'
import struct, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    head = z.open("bootstrap").read(20) if z.namelist() == ["bootstrap"] else b""
sys.exit(0 if head[:4] == b"\x7fELF" and struct.unpack_from("<H", head, 18)[0] == 183 else 1)
PY
}
# (Shown to fail: a zip of an x86-64 bootstrap is refused.)
not_arm64=$(mktemp -d)
python3 - "$not_arm64/bootstrap.zip" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr("bootstrap", b"\x7fELF\x02\x01\x01" + bytes(9) + b"\x02\x00\x3e\x00")
PY
if holds_arm64_bootstrap "$not_arm64/bootstrap.zip"; then
    echo "package-sizes: the aarch64 check took an x86-64 bootstrap for aarch64" >&2
    exit 1
fi
rm -rf -- "$not_arm64"

packages=()
for f in "${FUNCTIONS[@]}"; do packages+=(--package "$f"); done
# Old zips must not pass for new ones.
for f in "${FUNCTIONS[@]}"; do rm -f -- "$TARGET_DIR/lambda/$f/bootstrap.zip"; done
CARGO_TARGET_DIR="$TARGET_DIR" cargo lambda build --release --arm64 --output-format zip \
    --locked --lambda-dir "$TARGET_DIR/lambda" "${packages[@]}"

over=0
printf '%-18s %12s %10s\n' function "zip bytes" MB
for f in "${FUNCTIONS[@]}"; do
    zip="$TARGET_DIR/lambda/$f/bootstrap.zip"
    if [[ ! -f "$zip" ]]; then
        echo "package-sizes: $zip was not built" >&2
        exit 1
    fi
    if ! holds_arm64_bootstrap "$zip"; then
        echo "package-sizes: $zip does not hold just an aarch64 bootstrap" >&2
        exit 1
    fi
    bytes=$(stat -c %s -- "$zip")
    printf '%-18s %12d %10s\n' "$f" "$bytes" "$(awk -v b="$bytes" 'BEGIN { printf "%.2f", b / 1000000 }')"
    if ((bytes > LIMIT)); then
        echo "package-sizes: $f's bootstrap.zip is $bytes bytes, over the limit of $LIMIT" >&2
        over=1
    fi
done
if ((over)); then
    exit 1
fi
echo "package-sizes: every zipped bootstrap is at most $LIMIT bytes"
