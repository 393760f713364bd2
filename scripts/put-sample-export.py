#!/usr/bin/env python3
"""Uploads the sample DynamoDB export in events/export-processor/cdc-exports/ (bucket
`cdc-exports`, the layout DynamoDB writes) to the S3 endpoint in $AWS_ENDPOINT_URL, e.g. a local
moto_server, so that export-processor can be run on the sample events with `--event`.
Needs boto3 (scripts/emulators.sh puts a venv with it first on PATH)."""
import os
import pathlib

import boto3

root = pathlib.Path(__file__).resolve().parent.parent / "events" / "export-processor" / "cdc-exports"
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
try:
    s3.create_bucket(Bucket="cdc-exports")
except s3.exceptions.BucketAlreadyOwnedByYou:
    pass
# manifest-summary.json last, as DynamoDB writes it.
files = sorted(p for p in root.rglob("*") if p.is_file())
files.sort(key=lambda p: p.name == "manifest-summary.json")
for path in files:
    key = path.relative_to(root).as_posix()
    s3.upload_file(str(path), "cdc-exports", key)
    print(f"s3://cdc-exports/{key}")
