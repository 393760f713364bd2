#!/usr/bin/env bash
# Installs the reference handlers' pinned packages under DIR; prints nothing but errors.
#
#   install.sh DIR
#
# DIR/python-venv: a venv with python/requirements.txt (wheels only: awslambdaric's source
#   build needs cmake, autotools and a C++ compiler; its cp311 manylinux wheel needs none).
# DIR/node: package.json, package-lock.json, node_modules (`npm ci`), and copies of runtime.mjs
#   and handler.mjs, which run from there so that their imports find node_modules.
# Idempotent: a part already installed at the same pins is left as it is (the .mjs copies are
# refreshed on every run, so run it before each use).
# PYTHON names the interpreter for the venv (default python3; the pins have wheels for CPython
# 3.11 on x86_64).
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: install.sh DIR" >&2
    exit 2
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$1"
dir=$(cd "$1" && pwd)

# Python: a fresh venv whenever the pins differ from those it was made with.
venv=$dir/python-venv
stamp=$venv/.installed-requirements.txt
if ! cmp -s "$here/python/requirements.txt" "$stamp" ||
    ! "$venv/bin/python" -c 'import awslambdaric, boto3, simplejson' 2>/dev/null; then
    rm -rf "$venv"
    "${PYTHON:-python3}" -m venv "$venv"
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install -q -q --no-input \
        --only-binary=:all: -r "$here/python/requirements.txt"
    cp "$here/python/requirements.txt" "$stamp"
fi

# Node: npm ci in a copy of node/ whenever the lock differs from the one installed.
node_dir=$dir/node
stamp=$node_dir/.installed-package-lock.json
if ! cmp -s "$here/node/package-lock.json" "$stamp" ||
    ! cmp -s "$here/node/package.json" "$node_dir/package.json" ||
    [ ! -d "$node_dir/node_modules/@aws-sdk/util-dynamodb" ]; then
    rm -rf "$node_dir"
    mkdir -p "$node_dir"
    cp "$here/node/package.json" "$here/node/package-lock.json" "$here/node/.npmrc" "$node_dir/"
    (cd "$node_dir" && npm ci --legacy-peer-deps --no-audit --no-fund --no-update-notifier \
        --loglevel=error >/dev/null)
    cp "$here/node/package-lock.json" "$stamp"
fi
for f in runtime.mjs handler.mjs; do
    cmp -s "$here/node/$f" "$node_dir/$f" || cp "$here/node/$f" "$node_dir/$f"
done
