#!/usr/bin/env bash
# Keeps the reference handlers honest: each must write exactly our stream-handler's change
# records (compare.py: same records, numbers by exact value) for every sample event and every
# generated payload (gen_payloads.py), and answer {"batchItemFailures":[]}.
#
#   check.sh [DIR]
#
# DIR: where install.sh installs the pinned packages (default
# ${XDG_CACHE_HOME:-~/.cache}/cdc-invoke-bench-reference). Our output comes from the built
# stream-handler ($STREAM_HANDLER, else target/debug/stream-handler under $CARGO_TARGET_DIR or
# the repo; build it with `cargo build -p stream-handler`). Also checked: both handlers fail
# events/stream-malformed.json without writing anything, serve three invocations in one warm
# process, and write to /dev/null (a discarding sink) without error.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
deps=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/cdc-invoke-bench-reference}
"$here/install.sh" "$deps"
deps=$(cd "$deps" && pwd)

ours_bin=${STREAM_HANDLER:-}
if [ -z "$ours_bin" ]; then
    for candidate in ${CARGO_TARGET_DIR:+"$CARGO_TARGET_DIR/debug/stream-handler"} \
        "$repo/target/debug/stream-handler" "$repo/target/release/stream-handler"; do
        if [ -x "$candidate" ]; then
            ours_bin=$candidate
            break
        fi
    done
fi
if [ ! -x "$ours_bin" ]; then
    echo "check.sh: no stream-handler binary: cargo build -p stream-handler, or set STREAM_HANDLER" >&2
    exit 2
fi

work=$(mktemp -d)
trap '[ "${keep:-}" ] || rm -rf "$work"' EXIT
python3 "$here/gen_payloads.py" "$work/payloads"
# Our function with its default mapping settings, which are the references' only ones.
unset CDC_VIEW_ON_REMOVE CDC_TTL_DELETES CDC_DLQ CDC_MAX_RECORD_AGE
export AWS_REGION=eu-west-1 CDC_KEY_SCHEMA=orders:pk:sk,sessions_ttl:pk,counters:id,users:pk,blobs:pk:sk
passed=0
failed=0
pass() { passed=$((passed + 1)); }
fail() {
    failed=$((failed + 1))
    echo "FAIL $*" >&2
}

# run REF PAYLOAD OUTPUT LOG [serve_once options]: one reference handler under serve_once.py,
# writing its records to OUTPUT; the answers on stdout, the handler's log in LOG.
run() {
    local ref=$1 payload=$2 output=$3 log=$4
    shift 4
    case $ref in
    python)
        (cd "$here/python" && BENCH_OUTPUT=$output python3 "$here/serve_once.py" "$@" "$payload" -- \
            "$deps/python-venv/bin/python" -m awslambdaric handler.handler) 2>"$log"
        ;;
    node)
        BENCH_OUTPUT=$output python3 "$here/serve_once.py" "$@" "$payload" -- \
            node "$deps/node/runtime.mjs" 2>"$log"
        ;;
    esac
}

# Every answer line is the empty batch response.
empty_responses() {
    python3 -c '
import json, sys
lines = sys.stdin.read().splitlines()
sys.exit(not lines or any(json.loads(l) != {"batchItemFailures": []} for l in lines))'
}

for payload in "$repo"/events/stream-*.json "$work"/payloads/*.json; do
    name=$(basename "$payload" .json)
    [ "$name" = stream-malformed ] && continue
    ours=$work/$name.ours.jsonl
    if ! CDC_SINKS=file://$ours "$ours_bin" --event "$payload" >/dev/null 2>"$ours.log" ||
        grep -q '"reason"' "$ours.log"; then
        fail "$name: our stream-handler did not map every record (see below)"
        cat "$ours.log" >&2
        continue
    fi
    for ref in python node; do
        out=$work/$name.$ref.jsonl
        if ! answer=$(run $ref "$payload" "$out" "$out.log"); then
            fail "$name: $ref handler: $(tail -c 2000 "$out.log")"
        elif ! empty_responses <<<"$answer"; then
            fail "$name: $ref handler answered $answer"
        elif ! python3 "$here/compare.py" "$ours" "$out" >/dev/null; then
            fail "$name: $ref handler's records differ from ours"
        else
            pass
        fi
    done
done

malformed=$repo/events/stream-malformed.json
for ref in python node; do
    out=$work/malformed.$ref.jsonl
    status=0
    run $ref "$malformed" "$out" "$out.log" >/dev/null || status=$?
    if [ "$status" -eq 1 ] && [ ! -s "$out" ]; then
        pass
    else
        fail "stream-malformed: $ref handler answered (status $status) or wrote records"
    fi

    # Warm: three invocations in one process append three times the records.
    out=$work/warm.$ref.jsonl
    if answer=$(run $ref "$repo/events/stream-all-types.json" "$out" "$out.log" --count 3) &&
        [ "$(wc -l <<<"$answer")" -eq 3 ] && empty_responses <<<"$answer" &&
        python3 "$here/compare.py" <(cat "$work"/stream-all-types.ours.jsonl{,,}) "$out" >/dev/null; then
        pass
    else
        fail "warm: $ref handler over three invocations: $(tail -c 2000 "$out.log")"
    fi

    # A discarding sink: /dev/null, not synced.
    log=$work/devnull.$ref.log
    if answer=$(run $ref "$work/payloads/gen-free-text.json" /dev/null "$log") &&
        empty_responses <<<"$answer"; then
        pass
    else
        fail "/dev/null: $ref handler: $(tail -c 2000 "$log")"
    fi
done

echo "reference handlers: $passed passed, $failed failed"
if [ "$failed" -ne 0 ]; then
    keep=1
    echo "check.sh: payloads and outputs kept in $work" >&2
    exit 1
fi
