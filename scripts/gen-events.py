#!/usr/bin/env python3
"""Regenerate the sample Lambda DynamoDB Streams events in events/.

Run it with the emulators up:

    scripts/emulators.sh python3 scripts/gen-events.py [--out DIR]

Every record in the output comes from a real DynamoDB Local stream: the script
creates tables, performs writes, reads every shard of each table's stream with
GetRecords and writes the records as Lambda events, ``{"Records": [...]}``.
Each record is the raw GetRecords JSON record (taken from the HTTP response
body, not from boto3's parsed objects, so ApproximateCreationDateTime stays
the raw epoch-seconds number and B/BS values stay base64 strings), plus
``eventSourceARN`` set to the table's LatestStreamArn, which is what Lambda
adds.

The only changes made to DynamoDB Local's records, all deliberate:

* DynamoDB Local writes an empty map attribute value as ``{}`` instead of
  ``{"M": {}}`` (at any depth of Keys/NewImage/OldImage, also inside M and L).
  Every such ``{}`` is repaired to ``{"M": {}}``, which is what DynamoDB sends.
* stream-ttl-delete.json: DynamoDB Local really does delete the expired item,
  but its stream record for that deletion has ``eventName``
  ``"UNKNOWN_TO_SDK_VERSION"`` and no ``userIdentity``. DynamoDB marks TTL
  deletions with ``eventName: "REMOVE"`` and
  ``userIdentity: {"type": "Service", "principalId": "dynamodb.amazonaws.com"}``,
  so the script sets both on that one record. (If DynamoDB Local ever emits
  REMOVE or a userIdentity itself, those are kept and only what is missing is
  added.)
* stream-malformed.json: exactly one record, the middle one (index 2 of 5, a
  MODIFY), has the N value of ``NewImage.qty`` replaced with ``"12abc"``,
  which is not a number. Everything else in that file is untouched.

Item contents and the order of operations are fixed, so the files only differ
between runs in eventID, timestamps, sequence numbers, shard ids and stream
ARNs (which carry the table creation time).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import sys
import time
from decimal import Decimal
from pathlib import Path

import boto3

REPO_ROOT = Path(__file__).resolve().parent.parent

# Fixed TTL timestamps keep the output deterministic: one long past (the item
# expires at once), one far in the future (it never expires during the run).
TTL_EXPIRED = "1700000000"  # 2023-11-14T22:13:20Z
TTL_FUTURE = "4102444800"  # 2100-01-01T00:00:00Z
TTL_WAIT_SECS = 180

TTL_USER_IDENTITY = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
MALFORMED_NUMBER = "12abc"


def log(msg: str) -> None:
    print(f"gen-events: {msg}", file=sys.stderr)


# ---------------------------------------------------------------------------
# DynamoDB Local access
# ---------------------------------------------------------------------------


class Emulator:
    def __init__(self, endpoint: str) -> None:
        kwargs = {
            "endpoint_url": endpoint,
            "region_name": os.environ.get("AWS_REGION", "us-east-1"),
            "aws_access_key_id": os.environ.get("AWS_ACCESS_KEY_ID", "test"),
            "aws_secret_access_key": os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
        }
        self.ddb = boto3.client("dynamodb", **kwargs)
        self.streams = boto3.client("dynamodbstreams", **kwargs)
        # botocore decodes the response (base64 -> bytes, numbers -> datetime
        # ...); we want the wire format, so keep the raw body of each
        # GetRecords response as well.
        self._raw_bodies: list[bytes] = []
        self.streams.meta.events.register(
            "after-call.dynamodbstreams.GetRecords", self._capture_body
        )

    def _capture_body(self, http_response, **_kwargs) -> None:
        self._raw_bodies.append(http_response.content)

    def create_table(self, name: str, keys: list[tuple[str, str]], view_type: str) -> str:
        """Create table `name` (keys: [(attr, S|N|B)], HASH first) with a
        stream of `view_type`; return its LatestStreamArn."""
        try:
            self.ddb.delete_table(TableName=name)
            self.ddb.get_waiter("table_not_exists").wait(TableName=name)
        except self.ddb.exceptions.ResourceNotFoundException:
            pass
        key_types = ["HASH", "RANGE"]
        desc = self.ddb.create_table(
            TableName=name,
            KeySchema=[
                {"AttributeName": attr, "KeyType": key_types[i]}
                for i, (attr, _) in enumerate(keys)
            ],
            AttributeDefinitions=[
                {"AttributeName": attr, "AttributeType": typ} for attr, typ in keys
            ],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": view_type},
        )["TableDescription"]
        self.ddb.get_waiter("table_exists").wait(TableName=name)
        return desc["LatestStreamArn"]

    def _get_records_raw(self, iterator: str) -> dict:
        self._raw_bodies.clear()
        self.streams.get_records(ShardIterator=iterator, Limit=1000)
        if len(self._raw_bodies) != 1:
            raise RuntimeError("did not capture the GetRecords response body")
        # parse_float=Decimal keeps e.g. ApproximateCreationDateTime
        # 1795283280.000 exactly as sent (see dump_event).
        return json.loads(self._raw_bodies[0], parse_float=Decimal)

    def read_stream(self, stream_arn: str) -> list[dict]:
        """All records of a stream, every shard from TRIM_HORIZON, parents
        before children."""
        shards: list[dict] = []
        kwargs = {"StreamArn": stream_arn}
        while True:
            desc = self.streams.describe_stream(**kwargs)["StreamDescription"]
            shards.extend(desc["Shards"])
            last = desc.get("LastEvaluatedShardId")
            if not last:
                break
            kwargs["ExclusiveStartShardId"] = last

        records: list[dict] = []
        for shard in order_shards(shards):
            # A closed shard (it has an EndingSequenceNumber) is read until
            # GetRecords stops returning a NextShardIterator; an open one
            # until a call returns no records (it would never end otherwise).
            closed = "EndingSequenceNumber" in shard["SequenceNumberRange"]
            iterator = self.streams.get_shard_iterator(
                StreamArn=stream_arn,
                ShardId=shard["ShardId"],
                ShardIteratorType="TRIM_HORIZON",
            )["ShardIterator"]
            for _ in range(10_000):
                if not iterator:
                    break
                body = self._get_records_raw(iterator)
                records.extend(body["Records"])
                iterator = body.get("NextShardIterator")
                if not body["Records"] and not closed:
                    break
            else:
                raise RuntimeError(f"shard {shard['ShardId']} never ended")
        return records


def order_shards(shards: list[dict]) -> list[dict]:
    """Parents before children, as a stream consumer must read them."""
    by_id = {s["ShardId"]: s for s in shards}
    done: set[str] = set()
    ordered: list[dict] = []

    def visit(shard: dict) -> None:
        if shard["ShardId"] in done:
            return
        parent = by_id.get(shard.get("ParentShardId", ""))
        if parent is not None:
            visit(parent)
        done.add(shard["ShardId"])
        ordered.append(shard)

    for shard in shards:
        visit(shard)
    return ordered


# ---------------------------------------------------------------------------
# Record post-processing
# ---------------------------------------------------------------------------


def repair_empty_maps(record: dict) -> int:
    """Turn DynamoDB Local's `{}` empty-map attribute values into
    `{"M": {}}` in Keys/NewImage/OldImage; return how many were repaired."""
    count = 0

    def fix(value: dict) -> dict:
        nonlocal count
        if value == {}:
            count += 1
            return {"M": {}}
        if "M" in value:
            return {"M": {k: fix(v) for k, v in value["M"].items()}}
        if "L" in value:
            return {"L": [fix(v) for v in value["L"]]}
        return value

    stream_record = record["dynamodb"]
    for image in ("Keys", "NewImage", "OldImage"):
        if image in stream_record:
            stream_record[image] = {k: fix(v) for k, v in stream_record[image].items()}
    return count


def finish_records(records: list[dict], stream_arn: str) -> list[dict]:
    """Repair empty maps and add eventSourceARN, as Lambda does."""
    repaired = 0
    for record in records:
        repaired += repair_empty_maps(record)
        record["eventSourceARN"] = stream_arn
    if repaired:
        log(f"  repaired {repaired} empty-map value(s) {{}} -> {{\"M\": {{}}}}")
    return records


def expect_events(records: list[dict], expected: list[str], what: str) -> None:
    names = [r["eventName"] for r in records]
    if names != expected:
        raise RuntimeError(f"{what}: expected events {expected}, got {names}")


_RAW_NUMBER = "\u0000raw-number:"
_RAW_NUMBER_RE = re.compile(r'"\\u0000raw-number:([-+0-9.eE]+)"')


class _RawNumberEncoder(json.JSONEncoder):
    """Writes Decimals (JSON numbers as parsed) back exactly as they were
    sent. json cannot emit raw number text, so write a marker string that
    dump_event then replaces."""

    def default(self, o):
        if isinstance(o, Decimal):
            return f"{_RAW_NUMBER}{o}"
        return super().default(o)


def dump_event(path: Path, records: list[dict]) -> None:
    text = json.dumps(
        {"Records": records}, indent=2, ensure_ascii=False, cls=_RawNumberEncoder
    )
    text = _RAW_NUMBER_RE.sub(r"\1", text)
    json.loads(text)  # still valid JSON
    path.write_text(text + "\n", encoding="utf-8")
    names = ", ".join(r["eventName"] for r in records)
    log(f"wrote {path} ({len(records)} records: {names})")


# ---------------------------------------------------------------------------
# Scenarios
# ---------------------------------------------------------------------------


def S(v: str) -> dict:
    return {"S": v}


def N(v: str) -> dict:
    return {"N": v}


def all_types_item() -> dict:
    """An item with every attribute type, and edge cases of each."""
    return {
        "pk": S("customer#42"),
        "sk": S("order#0001"),
        "str_unicode": S("Grüße 🚀"),
        "str_empty": S(""),
        "num_38_digits": N("12345678901234567890.123456789012345678"),
        "num_negative": N("-0.5"),
        "num_int": N("15"),
        "num_tiny": N("1E-130"),
        "num_huge": N("9.9999999999999999999999999999999999999E+125"),
        "bin": {"B": b"\x01\x02\xff"},
        "bool_true": {"BOOL": True},
        "bool_false": {"BOOL": False},
        "nothing": {"NULL": True},
        "string_set": {"SS": ["alpha", "beta", "Grüße 🚀"]},
        "number_set": {"NS": ["1", "-2.5", "12345678901234567890.123456789012345678"]},
        "binary_set": {"BS": [b"\x00", b"\x01\x02\xff"]},
        "empty_map": {"M": {}},
        "empty_list": {"L": []},
        "map": {
            "M": {
                "name": S("nested"),
                "empty": {"M": {}},
                "deeper": {"M": {"n": N("1"), "flag": {"BOOL": True}}},
                "list": {"L": [S("x"), {"M": {}}]},
            }
        },
        "list": {
            "L": [
                S("a"),
                N("1"),
                {"BOOL": False},
                {"NULL": True},
                {"B": b"\xff"},
                {"L": []},
                {"M": {}},
                {"M": {"k": S("v"), "inner": {"M": {}}}},
                {"L": [N("2"), {"L": [S("deep")]}]},
                {"SS": ["x", "y"]},
            ]
        },
    }


def gen_orders(emu: Emulator, out: Path) -> None:
    """events/stream-all-types.json and events/stream-malformed.json."""
    log("table orders (pk S HASH, sk S RANGE, NEW_AND_OLD_IMAGES)")
    arn = emu.create_table("orders", [("pk", "S"), ("sk", "S")], "NEW_AND_OLD_IMAGES")
    ddb = emu.ddb

    # stream-all-types.json: INSERT, MODIFY, INSERT, REMOVE, INSERT
    ddb.put_item(TableName="orders", Item=all_types_item())
    ddb.update_item(
        TableName="orders",
        Key={"pk": S("customer#42"), "sk": S("order#0001")},
        UpdateExpression="SET num_int = num_int + :one, str_empty = :status",
        ExpressionAttributeValues={":one": N("1"), ":status": S("shipped")},
    )
    second = {"pk": S("customer#42"), "sk": S("order#0002")}
    ddb.put_item(TableName="orders", Item={**second, "qty": N("1"), "note": S("short-lived")})
    ddb.delete_item(TableName="orders", Key=second)
    ddb.put_item(
        TableName="orders",
        Item={"pk": S("a|b\\c"), "sk": S("x|y"), "note": S("separators in keys")},
    )
    records = emu.read_stream(arn)
    expect_events(records, ["INSERT", "MODIFY", "INSERT", "REMOVE", "INSERT"], "orders")
    seen = {r["dynamodb"]["SequenceNumber"] for r in records}
    dump_event(out / "stream-all-types.json", finish_records(records, arn))

    # stream-malformed.json: a second, plain batch on the same table.
    def order(sk: str) -> dict:
        return {"pk": S("customer#7"), "sk": S(sk)}

    ddb.put_item(TableName="orders", Item={**order("order#0100"), "qty": N("1"), "total": N("19.99")})
    ddb.put_item(TableName="orders", Item={**order("order#0101"), "qty": N("2"), "total": N("5")})
    ddb.update_item(
        TableName="orders",
        Key=order("order#0100"),
        UpdateExpression="SET qty = :q",
        ExpressionAttributeValues={":q": N("3")},
    )
    ddb.put_item(TableName="orders", Item={**order("order#0102"), "qty": N("4"), "total": N("0.5")})
    ddb.delete_item(TableName="orders", Key=order("order#0101"))
    batch = [r for r in emu.read_stream(arn) if r["dynamodb"]["SequenceNumber"] not in seen]
    expect_events(batch, ["INSERT", "INSERT", "MODIFY", "INSERT", "REMOVE"], "orders batch 2")
    batch = finish_records(batch, arn)
    # DELIBERATE CORRUPTION, the only one: record index 2 of 5 (the MODIFY of
    # customer#7/order#0100) gets NewImage.qty = {"N": "12abc"}, not a number.
    # Its Keys, OldImage and all other records stay as DynamoDB Local sent them.
    middle = batch[2]["dynamodb"]
    assert middle["Keys"]["sk"] == S("order#0100") and "N" in middle["NewImage"]["qty"]
    middle["NewImage"]["qty"] = N(MALFORMED_NUMBER)
    dump_event(out / "stream-malformed.json", batch)


def gen_ttl(emu: Emulator, out: Path) -> None:
    """events/stream-ttl-delete.json: a TTL deletion next to a user delete."""
    log("table sessions_ttl (pk S HASH, TTL attribute expires_at, NEW_AND_OLD_IMAGES)")
    arn = emu.create_table("sessions_ttl", [("pk", "S")], "NEW_AND_OLD_IMAGES")
    ddb = emu.ddb
    ddb.update_time_to_live(
        TableName="sessions_ttl",
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
    )
    expired = {"pk": S("session#alice")}
    user_deleted = {"pk": S("session#bob")}
    ddb.put_item(TableName="sessions_ttl", Item={**expired, "user": S("alice"), "expires_at": N(TTL_EXPIRED)})
    ddb.put_item(TableName="sessions_ttl", Item={**user_deleted, "user": S("bob"), "expires_at": N(TTL_FUTURE)})
    ddb.delete_item(TableName="sessions_ttl", Key=user_deleted)

    # DynamoDB Local runs TTL deletion in the background; wait for it.
    deadline = time.monotonic() + TTL_WAIT_SECS
    while "Item" in ddb.get_item(TableName="sessions_ttl", Key=expired, ConsistentRead=True):
        if time.monotonic() > deadline:
            raise RuntimeError(f"DynamoDB Local did not TTL-delete session#alice in {TTL_WAIT_SECS}s")
        time.sleep(1)

    records = emu.read_stream(arn)
    if len(records) != 4:
        raise RuntimeError(f"sessions_ttl: expected 4 records, got {len(records)}")
    expect_events(records[:3], ["INSERT", "INSERT", "REMOVE"], "sessions_ttl")
    ttl_record = records[3]
    if ttl_record["dynamodb"]["Keys"] != expired or "OldImage" not in ttl_record["dynamodb"]:
        raise RuntimeError(f"sessions_ttl: unexpected last record {ttl_record}")
    # DynamoDB Local's TTL deletion record has eventName "UNKNOWN_TO_SDK_VERSION"
    # and no userIdentity; make it look like DynamoDB's TTL REMOVE (see the
    # module docstring). The user REMOVE of session#bob stays as it is.
    if ttl_record["eventName"] != "REMOVE":
        log(f"  TTL record eventName {ttl_record['eventName']!r} -> 'REMOVE'")
        ttl_record["eventName"] = "REMOVE"
    ttl_record.setdefault("userIdentity", copy.deepcopy(TTL_USER_IDENTITY))
    dump_event(out / "stream-ttl-delete.json", finish_records(records, arn))


def gen_counters(emu: Emulator, out: Path) -> None:
    log("table counters (id N HASH, KEYS_ONLY)")
    arn = emu.create_table("counters", [("id", "N")], "KEYS_ONLY")
    key = {"id": N("42")}
    emu.ddb.put_item(TableName="counters", Item={**key, "count": N("0")})
    emu.ddb.update_item(
        TableName="counters",
        Key=key,
        UpdateExpression="ADD #c :one",
        ExpressionAttributeNames={"#c": "count"},
        ExpressionAttributeValues={":one": N("1")},
    )
    emu.ddb.delete_item(TableName="counters", Key=key)
    records = emu.read_stream(arn)
    expect_events(records, ["INSERT", "MODIFY", "REMOVE"], "counters")
    dump_event(out / "stream-keys-only.json", finish_records(records, arn))


def gen_users(emu: Emulator, out: Path) -> None:
    log("table users (pk S HASH, NEW_IMAGE)")
    arn = emu.create_table("users", [("pk", "S")], "NEW_IMAGE")
    key = {"pk": S("user#1")}
    emu.ddb.put_item(
        TableName="users",
        Item={**key, "name": S("Ada"), "email": S("ada@example.com"), "logins": N("0")},
    )
    emu.ddb.update_item(
        TableName="users",
        Key=key,
        UpdateExpression="SET email = :e, logins = logins + :one",
        ExpressionAttributeValues={":e": S("ada@example.org"), ":one": N("1")},
    )
    emu.ddb.delete_item(TableName="users", Key=key)
    records = emu.read_stream(arn)
    expect_events(records, ["INSERT", "MODIFY", "REMOVE"], "users")
    dump_event(out / "stream-new-image.json", finish_records(records, arn))


def gen_blobs(emu: Emulator, out: Path) -> None:
    log("table blobs (pk B HASH, sk N RANGE, OLD_IMAGE)")
    arn = emu.create_table("blobs", [("pk", "B"), ("sk", "N")], "OLD_IMAGE")
    key = {"pk": {"B": b"\x00\x01blob\xfe\xff"}, "sk": N("1")}
    emu.ddb.put_item(
        TableName="blobs",
        Item={**key, "data": {"B": b"\xde\xad\xbe\xef"}, "content_type": S("application/octet-stream")},
    )
    emu.ddb.update_item(
        TableName="blobs",
        Key=key,
        UpdateExpression="SET #d = :d",
        ExpressionAttributeNames={"#d": "data"},
        ExpressionAttributeValues={":d": {"B": b"\xca\xfe"}},
    )
    emu.ddb.delete_item(TableName="blobs", Key=key)
    records = emu.read_stream(arn)
    expect_events(records, ["INSERT", "MODIFY", "REMOVE"], "blobs")
    dump_event(out / "stream-old-image.json", finish_records(records, arn))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=REPO_ROOT / "events", help="output directory (default: events/)"
    )
    args = parser.parse_args()

    endpoint = os.environ.get("CDC_TEST_DYNAMODB_ENDPOINT")
    if not endpoint:
        log("CDC_TEST_DYNAMODB_ENDPOINT is not set; run me as: "
            "scripts/emulators.sh python3 scripts/gen-events.py")
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    emu = Emulator(endpoint)
    started = time.monotonic()
    gen_orders(emu, args.out)
    gen_counters(emu, args.out)
    gen_users(emu, args.out)
    gen_blobs(emu, args.out)
    gen_ttl(emu, args.out)  # last: it waits for DynamoDB Local's TTL sweep
    log(f"done in {time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
