// A small Lambda Runtime API client in plain JavaScript (aws-lambda-ric needs a native build):
// it loads the handler, then forever fetches the next invocation, calls the handler and posts its
// result or its error. Benchmark reference for tools/invoke-bench.
//
//   AWS_LAMBDA_RUNTIME_API=127.0.0.1:9001 node runtime.mjs [MODULE.EXPORT]
//
// MODULE.EXPORT (default `_HANDLER`, else `handler.handler`) names MODULE.mjs in
// LAMBDA_TASK_ROOT (default: this file's folder) and the function it exports.
// AWS_LAMBDA_RUNTIME_API is HOST:PORT as Lambda sets it; a base URL (`http://HOST:PORT/PATH`,
// as cargo-lambda's emulator takes) is accepted too.

import http from "node:http";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const VERSION = "2018-06-01";
const api = process.env.AWS_LAMBDA_RUNTIME_API;
if (!api) {
  console.error("AWS_LAMBDA_RUNTIME_API is not set");
  process.exit(1);
}
const base = new URL(api.includes("://") ? api : `http://${api}`);
const prefix = `${base.pathname.replace(/\/$/, "")}/${VERSION}/runtime`;
// One connection, kept open between requests, as Lambda's own runtimes do.
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function request(method, urlPath, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent,
        host: base.hostname,
        port: base.port || 80,
        method,
        path: prefix + urlPath,
        headers: body === undefined ? headers : { ...headers, "Content-Length": Buffer.byteLength(body) },
      },
      (res) => {
        const chunks = [];
        res.on("data", (chunk) => chunks.push(chunk));
        res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      },
    );
    req.on("error", (error) => {
      // A kept-alive connection the server closed meanwhile: send again on a new one.
      if (req.reusedSocket && error.code === "ECONNRESET") {
        request(method, urlPath, body, headers).then(resolve, reject);
      } else {
        reject(error);
      }
    });
    req.end(body);
  });
}

function errorBody(error) {
  return JSON.stringify({
    errorType: error?.name ?? "Error",
    errorMessage: error?.message ?? String(error),
    stackTrace: typeof error?.stack === "string" ? error.stack.split("\n").slice(1).map((l) => l.trim()) : [],
  });
}

async function postError(urlPath, error, type) {
  console.error(error);
  const res = await request("POST", urlPath, errorBody(error), {
    "Content-Type": "application/json",
    "Lambda-Runtime-Function-Error-Type": type,
  });
  if (res.status !== 202) {
    throw new Error(`POST ${urlPath}: HTTP ${res.status} ${res.body.toString()}`);
  }
}

async function loadHandler() {
  const spec = process.argv[2] ?? process.env._HANDLER ?? "handler.handler";
  const dot = spec.lastIndexOf(".");
  if (dot <= 0) {
    throw new Error(`handler ${JSON.stringify(spec)} is not MODULE.EXPORT`);
  }
  const root = process.env.LAMBDA_TASK_ROOT ?? path.dirname(fileURLToPath(import.meta.url));
  const module = await import(pathToFileURL(path.resolve(root, `${spec.slice(0, dot)}.mjs`)).href);
  const handler = module[spec.slice(dot + 1)];
  if (typeof handler !== "function") {
    throw new Error(`${spec}: no exported function ${spec.slice(dot + 1)}`);
  }
  return handler;
}

let handler;
try {
  handler = await loadHandler();
} catch (error) {
  await postError("/init/error", error, "Runtime.ImportModuleError").catch((e) => console.error(e));
  process.exit(1);
}

for (;;) {
  const next = await request("GET", "/invocation/next");
  if (next.status !== 200) {
    throw new Error(`GET /invocation/next: HTTP ${next.status} ${next.body.toString()}`);
  }
  const requestId = next.headers["lambda-runtime-aws-request-id"];
  const deadlineMs = Number(next.headers["lambda-runtime-deadline-ms"]);
  const traceId = next.headers["lambda-runtime-trace-id"];
  if (traceId) {
    process.env._X_AMZN_TRACE_ID = traceId;
  } else {
    delete process.env._X_AMZN_TRACE_ID;
  }
  const context = {
    awsRequestId: requestId,
    invokedFunctionArn: next.headers["lambda-runtime-invoked-function-arn"],
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    getRemainingTimeInMillis: () => (Number.isFinite(deadlineMs) ? deadlineMs - Date.now() : Infinity),
  };
  let result;
  try {
    result = await handler(JSON.parse(next.body.toString("utf8")), context);
  } catch (error) {
    await postError(`/invocation/${requestId}/error`, error, "Unhandled");
    continue;
  }
  const body = JSON.stringify(result ?? null);
  const res = await request("POST", `/invocation/${requestId}/response`, body, { "Content-Type": "application/json" });
  if (res.status !== 202) {
    throw new Error(`POST /invocation/${requestId}/response: HTTP ${res.status} ${res.body.toString()}`);
  }
}
