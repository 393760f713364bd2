#!/usr/bin/env python3
"""Serves one payload to a Lambda handler through a stub of the Runtime API, for testing the
reference handlers without the benchmark harness.

    serve_once.py [--timeout SECONDS] [--count N] PAYLOAD.json -- COMMAND [ARG...]

Listens on 127.0.0.1 (a free port), starts COMMAND with AWS_LAMBDA_RUNTIME_API=127.0.0.1:PORT
(its stdout and stderr go to this program's stderr), answers its first GET .../invocation/next
with the payload (its first N, with --count) and takes the answer: the body of each
POST .../invocation/ID/response is printed to stdout as one line and the exit status is 0; an
.../invocation/ID/error or .../runtime/init/error body is printed to stderr and the exit status
is 1. The handler's next request for an event is never answered: once the answers are in, the
handler's process group is killed and this program exits. Exit status 2: the handler exited or
timed out (--timeout, default 300 s) before answering.
"""

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/2018-06-01/runtime"


class Stub(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, payload, count):
        super().__init__(("127.0.0.1", 0), RuntimeApi)
        self.payload = payload
        self.count = count
        self.request_ids = []
        self.lock = threading.Lock()
        self.answered = threading.Event()
        self.answers = []  # (kind, body), kind "response" | "error" | "init-error"

    def handle_error(self, request, client_address):
        # Once the answers are in, the handler is killed: its connections break, as expected.
        if not self.answered.is_set():
            super().handle_error(request, client_address)

    def next_request_id(self):
        with self.lock:
            if len(self.request_ids) >= self.count:
                return None
            self.request_ids.append(str(uuid.uuid4()))
            return self.request_ids[-1]

    def answer(self, kind, body):
        with self.lock:
            if not self.answered.is_set():
                self.answers.append((kind, body))
                if kind != "response" or len(self.answers) == self.count:
                    self.answered.set()


class RuntimeApi(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real Runtime API

    def log_message(self, format, *args):
        pass

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        server = self.server
        if self.path != f"{PREFIX}/invocation/next":
            self.reply(404, b'{"errorMessage":"not found"}')
            return
        request_id = server.next_request_id()
        if request_id is None:
            # Nothing more to serve: hold the request until this program exits.
            server.answered.wait()
            time.sleep(3600)
            return
        deadline_ms = int(time.time() * 1000) + 900_000
        self.reply(
            200,
            server.payload,
            [
                ("Lambda-Runtime-Aws-Request-Id", request_id),
                ("Lambda-Runtime-Deadline-Ms", str(deadline_ms)),
                ("Lambda-Runtime-Invoked-Function-Arn",
                 "arn:aws:lambda:eu-west-1:000000000000:function:reference"),
                ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0"),
            ],
        )

    def do_POST(self):
        server = self.server
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        parts = self.path.split("/")
        if self.path == f"{PREFIX}/init/error":
            kind = "init-error"
        elif (self.path.startswith(f"{PREFIX}/invocation/") and len(parts) == 6
              and parts[4] in server.request_ids and parts[5] in ("response", "error")):
            kind = parts[5]
        else:
            self.reply(404, b'{"errorMessage":"not found"}')
            return
        server.answer(kind, body)
        self.reply(202, b'{"status":"OK"}')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--count", type=int, default=1,
                        help="serve the payload this many times (a warm process), one response "
                             "line each")
    parser.add_argument("payload")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no handler command after --")
    with open(args.payload, "rb") as f:
        payload = f.read()

    server = Stub(payload, args.count)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(os.environ, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_address[1]}")
    child = subprocess.Popen(command, env=env, stdout=sys.stderr, start_new_session=True)

    # Waits for the answer, the child's exit or the timeout, whichever comes first.
    deadline = time.monotonic() + args.timeout
    while not server.answered.wait(0.05):
        if child.poll() is not None or time.monotonic() > deadline:
            break
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    child.wait()

    for kind, body in server.answers:
        if kind == "response":
            sys.stdout.buffer.write(body + b"\n")
        else:
            print(f"serve_once: the handler answered with {kind}: "
                  f"{body.decode('utf-8', 'replace')}", file=sys.stderr)
            return 1
    if not server.answered.is_set():
        why = f"exited with {child.returncode}" if time.monotonic() <= deadline else "timed out"
        print(f"serve_once: the handler {why} after {len(server.answers)} of {args.count} "
              "answers", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
