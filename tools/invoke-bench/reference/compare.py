#!/usr/bin/env python3
"""Compares two JSON Lines files of change records, record by record, by meaning.

    compare.py A.jsonl B.jsonl

Numbers compare by exact value (parsed as Decimal: `1E+2`, `100` and `100.0` are equal, and
38-digit numbers are never rounded through float); object key order is ignored; arrays,
sets included, compare element by element in the order given; a number never equals a
boolean. Exit status 0 when every line matches (one summary line on stdout), 1 naming the first
differing line and field, 2 when a file cannot be read or holds a line that is not JSON.
"""

import json
import sys
from decimal import Decimal


class Different(Exception):
    pass


def kind(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, Decimal):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def show(value, limit=120):
    if isinstance(value, Decimal):
        text = str(value)
    else:
        text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


def field(path):
    return "".join(f"[{p}]" if isinstance(p, int) else ("." if i else "") + p
                   for i, p in enumerate(path)) or "(the record)"


def same(a, b, path):
    if kind(a) != kind(b):
        raise Different(f"{field(path)}: {kind(a)} {show(a)} != {kind(b)} {show(b)}")
    if isinstance(a, dict):
        for key in a:
            if key not in b:
                raise Different(f"{field(path + [key])}: only in the first file")
        for key in b:
            if key not in a:
                raise Different(f"{field(path + [key])}: only in the second file")
        for key in a:
            same(a[key], b[key], path + [key])
    elif isinstance(a, list):
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, path + [i])
        if len(a) != len(b):
            raise Different(f"{field(path)}: {len(a)} elements != {len(b)} elements")
    elif a != b:
        raise Different(f"{field(path)}: {show(a)} != {show(b)}")


def not_json(constant):
    raise ValueError(f"{constant} is not JSON")


def records(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for number, line in enumerate(lines, 1):
        try:
            yield json.loads(line, parse_float=Decimal, parse_int=Decimal, parse_constant=not_json)
        except ValueError as e:
            raise SystemExit(f"compare: {path} line {number} is not JSON: {e}") from None


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    first, second = argv[1], argv[2]
    try:
        a, b = list(records(first)), list(records(second))
    except OSError as e:
        print(f"compare: {e}", file=sys.stderr)
        return 2
    except SystemExit as e:
        print(e, file=sys.stderr)
        return 2
    for number, (x, y) in enumerate(zip(a, b), 1):
        try:
            same(x, y, [])
        except Different as e:
            print(f"compare: {first} and {second} differ at line {number}: {e}", file=sys.stderr)
            return 1
    if len(a) != len(b):
        print(f"compare: {first} has {len(a)} lines, {second} has {len(b)}: "
              f"line {min(len(a), len(b)) + 1} is only in "
              f"{first if len(a) > len(b) else second}", file=sys.stderr)
        return 1
    print(f"compare: {len(a)} records equal")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
