#!/usr/bin/env python3
"""Writes DynamoDB Streams Lambda payloads of the shapes the reference handlers must agree on.

    gen_payloads.py OUTDIR

Deterministic (fixed seed). Tables and keys are those of the sample events, so one key schema
serves all: orders:pk:sk,sessions_ttl:pk,counters:id,users:pk,blobs:pk:sk. Each file is a
Lambda event `{"Records": [...]}` as Lambda delivers it (N as strings, B as base64):

  gen-free-text.json        orders, NEW_AND_OLD_IMAGES: descriptions of 500-3000 characters
                            with quotes, backslashes and control characters; numbers of up to
                            38 digits, in plain and exponent form; INSERT, MODIFY, REMOVE
  gen-non-ascii-raw.json    orders: text in many scripts, emoji (astral), combining marks,
                            U+2028, non-ASCII attribute names and keys, written as UTF-8
  gen-non-ascii-escaped.json  the same records with every non-ASCII character written as a
                            \\u escape (astral ones as surrogate pairs), as Python's json does
  gen-many-attributes.json  orders: 50-80 small attributes per item
  gen-large-items.json      orders: items of about 300 KB (both images on MODIFY)
  gen-keys-only.json        counters (N key) and orders, KEYS_ONLY: no images
  gen-new-image.json        users, NEW_IMAGE: REMOVE has no image
  gen-old-image.json        blobs (B + N key), OLD_IMAGE: INSERT has no image
  gen-separator-keys.json   orders: keys made of `|` and `\\`, REMOVE records, TTL deletes
"""

import base64
import json
import os
import random
import sys

SCHEMA = "orders:pk:sk,sessions_ttl:pk,counters:id,users:pk,blobs:pk:sk"
BASE_TIME = 1795285380

WORDS = (
    "order shipped warehouse customer parcel delivery express fragile handle with care "
    "invoice pending refund discount coupon priority standard return label carrier tracking "
    "address street avenue building floor door code signature required weekend"
).split()
PUNCTUATION = [", ", ". ", "; ", ": ", " - ", "! ", "? ", " (", ") ", ' "', '" ', " '", "' "]
SPECIAL = ["\\", "\\\\", "/", "\n", "\r\n", "\t", "\b", "\f", "\u0000", "\u0001", "\u001f", "\u007f",
           "<script>", "&amp;", "{", "}", "[", "]", "%s", "\\u0041", "C:\\path\\to"]
NON_ASCII = [
    "Grüße", "Zoë", "Ångström", "naïve café", "Ελληνικά", "Москва", "Київ", "עברית",
    "مرحبا", "हिन्दी", "ไทย", "日本語のテキスト", "東京都", "한국어", "中文字符",
    "🚀", "👩\u200d👩\u200d👧", "🇫🇷", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "e\u0301", "\u2028", "\u2029", "\ufeff",
    "\u00a0", "€", "ß", "Ω", "∑", "😀😃😄", "𠜎𠜱𠝹",
]


class Gen:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.sequence = 100000000000000000000
        self.events = 0

    def text(self, length, alphabet=("ascii",)):
        rng = self.rng
        parts, size = [], 0
        while size < length:
            r = rng.random()
            if "special" in alphabet and r < 0.06:
                piece = rng.choice(SPECIAL)
            elif "non_ascii" in alphabet and r < 0.3:
                piece = rng.choice(NON_ASCII) + " "
            elif r < 0.4:
                piece = rng.choice(PUNCTUATION)
            else:
                piece = rng.choice(WORDS) + " "
            parts.append(piece)
            size += len(piece)
        return "".join(parts)[:length]

    def number(self):
        rng = self.rng
        r = rng.random()
        if r < 0.3:
            return str(rng.randint(-1000, 100000))
        if r < 0.45:
            return f"{rng.randint(0, 99999)}.{rng.randint(0, 99):02d}".rstrip("0").rstrip(".")
        if r < 0.85:
            # Up to 38 significant digits, the point anywhere (DynamoDB's plain form).
            digits = str(rng.randint(1, 9)) + "".join(
                rng.choice("0123456789") for _ in range(rng.randint(0, 37)))
            digits = digits.rstrip("0") or "0"
            point = rng.randint(-5, len(digits) + 5)
            if point <= 0:
                text = "0." + "0" * -point + digits
            elif point >= len(digits):
                text = digits + "0" * (point - len(digits))
            else:
                text = digits[:point] + "." + digits[point:]
            return ("-" if rng.random() < 0.3 else "") + text
        # Exponent forms, which other writers of DynamoDB JSON use.
        mantissa = f"{rng.randint(1, 9)}.{rng.randint(0, 10**12)}".rstrip("0").rstrip(".")
        return f"{'-' if rng.random() < 0.3 else ''}{mantissa}E{rng.choice(['+', '-', ''])}{rng.randint(1, 120)}"

    def binary(self, size):
        return base64.b64encode(bytes(self.rng.getrandbits(8) for _ in range(size))).decode()

    def value(self, depth=0, alphabet=("ascii",)):
        rng = self.rng
        kinds = ["S", "N", "B", "BOOL", "NULL", "SS", "NS", "BS"] + (["M", "L"] if depth < 4 else [])
        kind = rng.choice(kinds)
        if kind == "S":
            return {"S": self.text(rng.randint(0, 40), alphabet)}
        if kind == "N":
            return {"N": self.number()}
        if kind == "B":
            return {"B": self.binary(rng.randint(1, 40))}
        if kind == "BOOL":
            return {"BOOL": rng.random() < 0.5}
        if kind == "NULL":
            return {"NULL": True}
        if kind == "SS":
            return {"SS": list(dict.fromkeys(self.text(rng.randint(1, 12), alphabet)
                                             for _ in range(rng.randint(1, 5))))}
        if kind == "NS":
            return {"NS": list(dict.fromkeys(self.number() for _ in range(rng.randint(1, 5))))}
        if kind == "BS":
            return {"BS": list(dict.fromkeys(self.binary(rng.randint(1, 8))
                                             for _ in range(rng.randint(1, 4))))}
        if kind == "M":
            return {"M": {self.text(rng.randint(1, 10), alphabet): self.value(depth + 1, alphabet)
                          for _ in range(rng.randint(0, 4))}}
        return {"L": [self.value(depth + 1, alphabet) for _ in range(rng.randint(0, 4))]}

    def record(self, table, event_name, keys, view, new=None, old=None, ttl=False, region="eu-west-1"):
        self.sequence += self.rng.randint(1, 1000)
        self.events += 1
        data = {"ApproximateCreationDateTime": float(BASE_TIME + self.events // 7), "Keys": keys}
        if view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES") and new is not None:
            data["NewImage"] = new
        if view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES") and old is not None:
            data["OldImage"] = old
        data["SequenceNumber"] = str(self.sequence)
        data["SizeBytes"] = len(json.dumps(keys)) + len(json.dumps(new or {})) + len(json.dumps(old or {}))
        data["StreamViewType"] = view
        record = {
            "eventID": "%032x" % self.rng.getrandbits(128),
            "eventName": event_name,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": region,
            "dynamodb": data,
            "eventSourceARN": f"arn:aws:dynamodb:{region}:123456789012:table/{table}/stream/2026-11-21T18:23:12.275",
        }
        if ttl:
            record["userIdentity"] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
        return record

    def lifecycle(self, table, keys, view, make_item, modifies=1, remove=True):
        """INSERT, MODIFYs and a REMOVE of one item, each image made by make_item."""
        item = {**make_item(), **keys}
        records = [self.record(table, "INSERT", keys, view, new=item)]
        for _ in range(modifies):
            newer = {**make_item(), **keys}
            records.append(self.record(table, "MODIFY", keys, view, new=newer, old=item))
            item = newer
        if remove:
            records.append(self.record(table, "REMOVE", keys, view, old=item))
        return records


def order_keys(gen, i, alphabet=("ascii",)):
    pk = f"customer#{gen.rng.randint(1, 50)}"
    sk = f"order#{i:05d}"
    if "non_ascii" in alphabet and i % 3 == 0:
        pk += " " + gen.rng.choice(NON_ASCII)
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def free_text(gen):
    records = []
    for i in range(80):
        def item():
            return {
                "description": {"S": gen.text(gen.rng.randint(500, 3000), ("ascii", "special"))},
                "note": {"S": gen.text(gen.rng.randint(0, 200), ("ascii", "special"))},
                "amount": {"N": gen.number()},
                "qty": {"N": str(gen.rng.randint(1, 20))},
                "exact": {"N": gen.number()},
                "tags": {"SS": ["a", "b", gen.text(8)]},
                "shipped": {"BOOL": gen.rng.random() < 0.5},
            }
        records += gen.lifecycle("orders", order_keys(gen, i), "NEW_AND_OLD_IMAGES", item,
                                 modifies=i % 3, remove=i % 4 == 0)
    return records


def non_ascii(gen):
    alphabet = ("ascii", "non_ascii", "special")
    records = []
    for i in range(60):
        def item():
            return {
                "name": {"S": gen.text(gen.rng.randint(5, 60), alphabet)},
                "description": {"S": gen.text(gen.rng.randint(500, 1500), alphabet)},
                "città": {"S": gen.rng.choice(NON_ASCII)},
                "🚀": {"N": gen.number()},
                "labels": {"SS": list(dict.fromkeys(gen.rng.sample(NON_ASCII, 4)))},
                "nested": gen.value(1, alphabet),
                "list": {"L": [gen.value(2, alphabet) for _ in range(4)]},
            }
        records += gen.lifecycle("orders", order_keys(gen, i, alphabet), "NEW_AND_OLD_IMAGES",
                                 item, modifies=1, remove=i % 5 == 0)
    return records


def many_attributes(gen):
    records = []
    for i in range(120):
        count = gen.rng.randint(50, 80)

        def item():
            attributes = {}
            for a in range(count):
                kind = a % 5
                if kind == 0:
                    value = {"S": gen.text(gen.rng.randint(1, 16))}
                elif kind == 1:
                    value = {"N": str(gen.rng.randint(0, 10**6))}
                elif kind == 2:
                    value = {"N": gen.number()}
                elif kind == 3:
                    value = {"BOOL": gen.rng.random() < 0.5}
                else:
                    value = {"NULL": True} if gen.rng.random() < 0.5 else {"S": ""}
                attributes[f"attr_{a:02d}"] = value
            return attributes
        records += gen.lifecycle("orders", order_keys(gen, i), "NEW_AND_OLD_IMAGES", item,
                                 modifies=1, remove=i % 6 == 0)
    return records


def large_items(gen):
    def item():
        return {
            "body": {"S": gen.text(150_000, ("ascii", "non_ascii", "special"))},
            "readings": {"L": [{"N": gen.number()} for _ in range(4000)]},
            "attachment": {"B": gen.binary(30_000)},
            "tags": {"SS": list(dict.fromkeys(gen.text(20) for _ in range(400)))},
            "meta": {"M": {f"k{n}": gen.value(1) for n in range(200)}},
        }
    records = []
    for i in range(2):
        records += gen.lifecycle("orders", order_keys(gen, i), "NEW_AND_OLD_IMAGES", item,
                                 modifies=1, remove=True)
    return records


def keys_only(gen):
    records = []
    for i in range(30):
        keys = {"id": {"N": gen.number()}}
        records += gen.lifecycle("counters", keys, "KEYS_ONLY", lambda: {"n": {"N": "1"}},
                                 modifies=1, remove=i % 2 == 0)
    for i in range(30):
        records += gen.lifecycle("orders", order_keys(gen, i), "KEYS_ONLY",
                                 lambda: {"x": {"S": "y"}}, modifies=1, remove=i % 2 == 1)
    return records


def new_image(gen):
    records = []
    for i in range(50):
        keys = {"pk": {"S": f"user#{i}"}}

        def item():
            return {
                "name": {"S": gen.text(gen.rng.randint(3, 30), ("ascii", "non_ascii"))},
                "email": {"S": f"user{i}@example.com"},
                "logins": {"N": str(gen.rng.randint(0, 1000))},
                "profile": gen.value(1),
            }
        records += gen.lifecycle("users", keys, "NEW_IMAGE", item, modifies=2, remove=i % 3 == 0)
    return records


def old_image(gen):
    records = []
    for i in range(30):
        keys = {"pk": {"B": gen.binary(gen.rng.randint(1, 24))}, "sk": {"N": gen.number()}}
        records += gen.lifecycle("blobs", keys, "OLD_IMAGE",
                                 lambda: {"data": {"B": gen.binary(100)}, "size": {"N": "100"}},
                                 modifies=1, remove=True)
    return records


def separator_keys(gen):
    pieces = ["|", "\\", "a|b", "a\\b", "\\|", "|\\", "a\\", "\\a", "||", "\\\\", "x|y\\z", "", "plain"]
    records = []
    i = 0
    for pk in pieces:
        for sk in pieces:
            if not pk or not sk:
                continue  # DynamoDB keys are never empty
            keys = {"pk": {"S": pk}, "sk": {"S": sk}}
            records += gen.lifecycle("orders", keys, "NEW_AND_OLD_IMAGES",
                                     lambda: {"v": {"N": str(gen.rng.randint(0, 9))}},
                                     modifies=0, remove=i % 2 == 0)
            i += 1
    # Sessions: user removes and TTL removes; TTL keys with separators too.
    for n, pk in enumerate(pieces[:-1] + ["session#alice", "session#bob"]):
        if not pk:
            continue
        keys = {"pk": {"S": pk}}
        item = {"pk": {"S": pk}, "expires_at": {"N": str(1700000000 + n)}, "user": {"S": "u"}}
        records.append(gen.record("sessions_ttl", "INSERT", keys, "NEW_AND_OLD_IMAGES", new=item))
        records.append(gen.record("sessions_ttl", "REMOVE", keys, "NEW_AND_OLD_IMAGES", old=item,
                                  ttl=n % 2 == 0))
    return records


PAYLOADS = {
    "gen-free-text.json": (free_text, False),
    "gen-non-ascii-raw.json": (non_ascii, False),
    "gen-non-ascii-escaped.json": (non_ascii, True),
    "gen-many-attributes.json": (many_attributes, False),
    "gen-large-items.json": (large_items, False),
    "gen-keys-only.json": (keys_only, False),
    "gen-new-image.json": (new_image, False),
    "gen-old-image.json": (old_image, False),
    "gen-separator-keys.json": (separator_keys, False),
}


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    os.makedirs(argv[1], exist_ok=True)
    for name, (make, escaped) in PAYLOADS.items():
        # Seeded by the shape: the raw and escaped non-ASCII payloads hold the same records.
        gen = Gen(make.__name__)
        event = {"Records": make(gen)}
        with open(os.path.join(argv[1], name), "w", encoding="utf-8") as f:
            json.dump(event, f, ensure_ascii=escaped, separators=(",", ":"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
