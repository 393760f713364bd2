// DynamoDB Streams to change records, as a careful Node user writes it (util-dynamodb unmarshall).
//
// A benchmark reference for tools/invoke-bench: it does the job of our stream-handler with a
// file sink, so that both can be measured on the same batches. For every record of the batch it
// builds the change record of README's "The change record" and appends them all, as JSON Lines,
// to the file named by BENCH_OUTPUT in one write followed by one fdatasync per invocation.
// CDC_KEY_SCHEMA (`TABLE:PK[:SK]`, comma-separated) names the tables' keys. Run by runtime.mjs.
//
// What unmarshall needs from a careful user here:
// - N: without wrapNumbers, numbers become doubles (or BigInt, or an error) and lose digits.
//   wrapNumbers, given a function, hands over each number's text: it is checked to be a JSON
//   number and marked, and the marks are replaced by the bare digits after JSON.stringify
//   (Node 20 has no JSON.rawJSON).
// - SS/NS/BS come back as Sets, which JSON.stringify writes as {}: written as arrays, in order.
// - B: Lambda delivers base64 text and unmarshall passes it through, so it is written as given.

import { randomBytes } from "node:crypto";
import { fdatasyncSync, fstatSync, openSync, writeSync } from "node:fs";

import { unmarshall } from "@aws-sdk/util-dynamodb";

function parseKeySchemas(setting) {
  const schemas = new Map();
  for (const raw of setting.split(",")) {
    const entry = raw.trim();
    if (!entry) continue;
    const parts = entry.split(":");
    if (parts.length < 2 || parts.length > 3 || parts.some((p) => !p)) {
      throw new Error(`CDC_KEY_SCHEMA: ${JSON.stringify(entry)} is not TABLE:PARTITION_KEY[:SORT_KEY]`);
    }
    schemas.set(parts[0], { partition: parts[1], sort: parts[2] ?? null });
  }
  return schemas;
}

const KEY_SCHEMAS = parseKeySchemas(process.env.CDC_KEY_SCHEMA ?? "");
// Opened once at cold start and appended to, as our file sink does; no fdatasync on what is no
// regular file (/dev/null as a discarding sink), where it fails.
if (!process.env.BENCH_OUTPUT) {
  throw new Error("BENCH_OUTPUT is not set");
}
const OUTPUT = openSync(process.env.BENCH_OUTPUT, "a");
const SYNC = fstatSync(OUTPUT).isFile();

// A mark no item text can hold by chance (its NUL is written `\u0000` by JSON.stringify).
const NONCE = randomBytes(12).toString("hex");
const MARK = `\u0000${NONCE}:`;
const MARKED = new RegExp(`"\\\\u0000${NONCE}:([-+.0-9eE]+)"`, "g");
const JSON_NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;
const UNMARSHALL = {
  wrapNumbers(text) {
    if (!JSON_NUMBER.test(text)) {
      throw new Error(`${JSON.stringify(text)} is not a DynamoDB number`);
    }
    return MARK + text;
  },
};
const setsAsArrays = (key, value) => (value instanceof Set ? Array.from(value) : value);

function tableOf(arn) {
  // arn:aws:dynamodb:REGION:ACCOUNT:table/NAME/stream/LABEL
  const parts = arn.split(":");
  const resource = parts.slice(5).join(":");
  const name = parts[2] === "dynamodb" && resource.startsWith("table/") ? resource.split("/")[1] : "";
  if (!name) {
    throw new Error(`eventSourceARN ${JSON.stringify(arn)} is not a DynamoDB stream ARN`);
  }
  return name;
}

// A key attribute as text: S as is, N as its decimal text, B as base64.
function keyText(keys, name) {
  const value = keys[name];
  if (value === undefined) {
    throw new Error(`key attribute ${JSON.stringify(name)} is missing`);
  }
  const [[tag, text]] = Object.entries(value);
  if (tag !== "S" && tag !== "N" && tag !== "B") {
    throw new Error(`key attribute ${JSON.stringify(name)} has type ${tag}; keys are S, N or B`);
  }
  return text;
}

const escape = (component) => component.replace(/[\\|]/g, "\\$&");

function changeRecord(record) {
  const table = tableOf(record.eventSourceARN);
  const eventName = record.eventName;
  if (eventName !== "INSERT" && eventName !== "MODIFY" && eventName !== "REMOVE") {
    throw new Error(`eventName ${JSON.stringify(eventName)}`);
  }
  const data = record.dynamodb;
  const keys = data.Keys;

  const schema = KEY_SCHEMAS.get(table);
  if (!schema) {
    throw new Error(`CDC_KEY_SCHEMA names no table ${JSON.stringify(table)}`);
  }
  if (Object.keys(keys).length !== (schema.sort === null ? 1 : 2)) {
    throw new Error(`the record's Keys ${Object.keys(keys)} are not the key schema of ${table}`);
  }
  const partitionKey = keyText(keys, schema.partition);
  const sortKey = schema.sort === null ? null : keyText(keys, schema.sort);
  const primaryKey = sortKey === null ? escape(partitionKey) : `${escape(partitionKey)}|${escape(sortKey)}`;

  // KEYS_ONLY and OLD_IMAGE streams carry no new image: the document is the keys.
  const document = eventName === "REMOVE" ? null : unmarshall(data.NewImage ?? keys, UNMARSHALL);

  const identity = record.userIdentity;
  const ttlDelete =
    eventName === "REMOVE" && identity?.type === "Service" && identity?.principalId === "dynamodb.amazonaws.com";
  const timestampMs = Math.round(data.ApproximateCreationDateTime * 1000);
  if (!Number.isFinite(timestampMs)) {
    throw new Error(`ApproximateCreationDateTime ${data.ApproximateCreationDateTime}`);
  }
  if (typeof data.SequenceNumber !== "string") {
    throw new Error("dynamodb.SequenceNumber is missing");
  }
  return {
    metadata: {
      table_name: table,
      primary_key: primaryKey,
      partition_key: partitionKey,
      sort_key: sortKey,
      dynamodb_event_name: eventName,
      opensearch_action: eventName === "REMOVE" ? "delete" : "index",
      dynamodb_timestamp: timestampMs,
      document_version: timestampMs,
      sequence_number: data.SequenceNumber,
      event_id: record.eventID ?? null,
      ttl_delete: ttlDelete,
      source: "stream",
    },
    document,
  };
}

function writeAll(buffer) {
  let at = 0;
  while (at < buffer.length) {
    at += writeSync(OUTPUT, buffer, at);
  }
  if (SYNC) {
    fdatasyncSync(OUTPUT);
  }
}

export async function handler(event) {
  let lines = "";
  for (const record of event.Records) {
    lines += JSON.stringify(changeRecord(record), setsAsArrays) + "\n";
  }
  if (lines) {
    writeAll(Buffer.from(lines.replace(MARKED, "$1"), "utf8"));
  }
  return { batchItemFailures: [] };
}
