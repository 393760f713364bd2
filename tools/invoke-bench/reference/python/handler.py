"""DynamoDB Streams to change records, as a careful Python user writes it (awslambdaric + boto3).

A benchmark reference for tools/invoke-bench: it does the job of our stream-handler with a file
sink, so that both can be measured on the same batches. For every record of the batch it builds
the change record of README's "The change record" and appends them all, as JSON Lines, to the
file named by BENCH_OUTPUT in one write followed by one fdatasync per invocation.

Started as `python -m awslambdaric handler.handler` in this folder, with AWS_LAMBDA_RUNTIME_API,
CDC_KEY_SCHEMA (`TABLE:PK[:SK]`, comma-separated) and BENCH_OUTPUT set.

What boto3's TypeDeserializer needs from a careful user here:
- B: Lambda delivers binary as base64 text, TypeDeserializer wants bytes: decode (validating),
  and encode back to base64 when writing the JSON.
- N: TypeDeserializer reads numbers in DYNAMODB_CONTEXT, which traps Rounded: it refuses an
  exact number of more than 38 digits such as 10**125 written out in full (DynamoDB Local
  writes numbers so). Decimal(text) keeps every number exactly; simplejson (awslambdaric's own
  JSON library) writes Decimal as its digits, never through float.
- SS/NS/BS: TypeDeserializer returns Python sets, whose order is arbitrary from one process to
  the next; they are kept as lists in the record's order so the output is stable.
"""

import base64
import os
import stat
from decimal import Decimal

import simplejson
from boto3.dynamodb.types import Binary, TypeDeserializer


def parse_key_schemas(setting):
    """`orders:pk:sk,users:id` -> {"orders": ("pk", "sk"), "users": ("id", None)}."""
    schemas = {}
    for entry in setting.split(","):
        entry = entry.strip()
        if not entry:
            continue
        parts = entry.split(":")
        if len(parts) not in (2, 3) or not all(parts):
            raise ValueError(f"CDC_KEY_SCHEMA: {entry!r} is not TABLE:PARTITION_KEY[:SORT_KEY]")
        schemas[parts[0]] = (parts[1], parts[2] if len(parts) == 3 else None)
    return schemas


class StreamImageDeserializer(TypeDeserializer):
    """TypeDeserializer for images as Lambda delivers them (see the module docs)."""

    def _deserialize_n(self, value):
        number = Decimal(value)
        if not number.is_finite():
            raise ValueError(f"{value!r} is not a DynamoDB number")
        return number

    def _deserialize_b(self, value):
        return Binary(base64.b64decode(value, validate=True))

    def _deserialize_ss(self, value):
        return list(value)

    def _deserialize_ns(self, value):
        return [self._deserialize_n(v) for v in value]

    def _deserialize_bs(self, value):
        return [self._deserialize_b(v) for v in value]


def json_default(value):
    if isinstance(value, Binary):
        return base64.b64encode(value.value).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


KEY_SCHEMAS = parse_key_schemas(os.environ.get("CDC_KEY_SCHEMA", ""))
DESERIALIZER = StreamImageDeserializer()
ENCODER = simplejson.JSONEncoder(
    use_decimal=True, ensure_ascii=False, separators=(",", ":"), default=json_default
)
# Opened once at cold start and appended to, as our file sink does; no fdatasync on what is no
# regular file (/dev/null as a discarding sink), where it fails.
OUTPUT = os.open(os.environ["BENCH_OUTPUT"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
SYNC = stat.S_ISREG(os.fstat(OUTPUT).st_mode)


def table_of(arn):
    """arn:aws:dynamodb:REGION:ACCOUNT:table/NAME/stream/LABEL -> NAME."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "dynamodb" or not parts[5].startswith("table/"):
        raise ValueError(f"eventSourceARN {arn!r} is not a DynamoDB stream ARN")
    name = parts[5].split("/")[1]
    if not name:
        raise ValueError(f"eventSourceARN {arn!r} names no table")
    return name


def key_text(keys, name):
    """A key attribute as text: S as is, N as its decimal text, B as base64."""
    ((tag, text),) = keys[name].items()
    if tag not in ("S", "N", "B"):
        raise ValueError(f"key attribute {name!r} has type {tag}; keys are S, N or B")
    return text


def escape(component):
    return component.replace("\\", "\\\\").replace("|", "\\|")


def deserialize(image):
    return {name: DESERIALIZER.deserialize(value) for name, value in image.items()}


def change_record(record):
    table = table_of(record["eventSourceARN"])
    event_name = record["eventName"]
    if event_name not in ("INSERT", "MODIFY", "REMOVE"):
        raise ValueError(f"eventName {event_name!r}")
    data = record["dynamodb"]
    keys = data["Keys"]

    schema = KEY_SCHEMAS.get(table)
    if schema is None:
        raise KeyError(f"CDC_KEY_SCHEMA names no table {table!r}")
    partition_name, sort_name = schema
    if len(keys) != (1 if sort_name is None else 2):
        raise ValueError(f"the record's Keys {sorted(keys)} are not the key schema {schema}")
    partition_key = key_text(keys, partition_name)
    if sort_name is None:
        sort_key = None
        primary_key = escape(partition_key)
    else:
        sort_key = key_text(keys, sort_name)
        primary_key = escape(partition_key) + "|" + escape(sort_key)

    if event_name == "REMOVE":
        document = None
    else:
        # KEYS_ONLY and OLD_IMAGE streams carry no new image: the document is the keys.
        document = deserialize(data.get("NewImage") or keys)

    identity = record.get("userIdentity") or {}
    ttl_delete = (
        event_name == "REMOVE"
        and identity.get("type") == "Service"
        and identity.get("principalId") == "dynamodb.amazonaws.com"
    )
    timestamp_ms = round(data["ApproximateCreationDateTime"] * 1000)
    return {
        "metadata": {
            "table_name": table,
            "primary_key": primary_key,
            "partition_key": partition_key,
            "sort_key": sort_key,
            "dynamodb_event_name": event_name,
            "opensearch_action": "delete" if event_name == "REMOVE" else "index",
            "dynamodb_timestamp": timestamp_ms,
            "document_version": timestamp_ms,
            "sequence_number": data["SequenceNumber"],
            "event_id": record.get("eventID"),
            "ttl_delete": ttl_delete,
            "source": "stream",
        },
        "document": document,
    }


def write_all(data):
    view = memoryview(data)
    while view:
        view = view[os.write(OUTPUT, view):]
    if SYNC:
        os.fdatasync(OUTPUT)


def handler(event, context):
    lines = [ENCODER.encode(change_record(record)) for record in event["Records"]]
    if lines:
        lines.append("")
        write_all("\n".join(lines).encode("utf-8"))
    return {"batchItemFailures": []}
