#!/usr/bin/env python3
"""Keeps samconfig.example.toml deployable: every environment's parameter_overrides names
parameters template.yaml has, gives every required parameter (no Default) a value, and gives
each sink URL of `Sinks` the parameter its permission is built from."""

import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent

# The parameter each sink scheme's IAM statement is built from (see docs/IAM.md).
PERMISSION_OF = {
    "dynamodb": "ReplicaTableArns",
    "s3": "SinkBucketArn",
    "opensearch+https": ("OpenSearchDomainArn", "OpenSearchCollectionArn"),
    "sqs": "SinkQueueArns",
    "sns": "SinkTopicArns",
    "kinesis": "SinkStreamArns",
    "events": "SinkEventBusArns",
}


class Loader(yaml.SafeLoader):
    """CloudFormation's short-form tags read as plain values."""


Loader.add_multi_constructor("!", lambda loader, suffix, node: None)


def main():
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=Loader)
    parameters = template["Parameters"]
    required = {name for name, p in parameters.items() if "Default" not in p}
    config = tomllib.loads((ROOT / "samconfig.example.toml").read_text())
    errors = []
    for env, commands in config.items():
        if not isinstance(commands, dict) or "deploy" not in commands:
            continue
        overrides = commands["deploy"]["parameters"].get("parameter_overrides")
        if overrides is None:
            continue
        given = dict(o.split("=", 1) for o in overrides)
        for name in given:
            if name not in parameters:
                errors.append(f"[{env}] {name} is not a parameter of template.yaml")
        for name in sorted(required - set(given)):
            errors.append(f"[{env}] the required parameter {name} has no value")
        for url in given.get("Sinks", "").split(","):
            scheme = url.split("://", 1)[0]
            needs = PERMISSION_OF.get(scheme)
            needs = needs if isinstance(needs, tuple) else (needs,) if needs else ()
            if needs and not any(given.get(n) for n in needs):
                errors.append(f"[{env}] sink {url} needs {' or '.join(needs)} for its permission")
    for error in errors:
        print(f"check-samconfig: {error}", file=sys.stderr)
    if errors:
        return 1
    print("check-samconfig: samconfig.example.toml names only template parameters, every sink with its permission")
    return 0


if __name__ == "__main__":
    sys.exit(main())
