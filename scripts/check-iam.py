#!/usr/bin/env python3
"""Keeps template.yaml's IAM policies least-privilege and in step with docs/IAM.md.

Checks every statement of every role and managed policy in the template:
  * no action with a wildcard;
  * `Resource: "*"` only for actions IAM cannot scope to a resource (UNSCOPABLE), and every
    action of that list still granted so (a stale entry would excuse a later "*");
  * the set of (policy, Sid, action) is exactly the one docs/IAM.md's table lists, so a
    permission cannot be added, dropped or renamed without the reviewed table saying why.

Usage: check-iam.py [--self-test]. Needs PyYAML (cfn-lint's venv has it). `--self-test` also
checks that a copy of the template with a wildcard action, an unscoped resource and an
undocumented action is refused.
"""

import copy
import re
import sys
from pathlib import Path

import cfn_yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
TABLE = ROOT / "docs" / "IAM.md"

# Actions whose IAM resource type is "*" only (they list or describe account-wide things;
# the Service Authorization Reference lists no resource type for them). docs/IAM.md says why
# each one is needed.
UNSCOPABLE = {
    "dynamodb:ListStreams",
    "dynamodb:ListExports",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    # Lambda's network interfaces in a VPC (VpcAccessPolicy): EC2's Describe* calls.
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
}




def statements(template):
    """(policy, statement) for every statement, conditional ones included."""
    for name, resource in template["Resources"].items():
        kind = resource["Type"]
        properties = resource.get("Properties", {})
        if kind == "AWS::IAM::Role":
            documents = [p["PolicyDocument"] for p in properties.get("Policies", [])]
        elif kind == "AWS::IAM::ManagedPolicy":
            documents = [properties["PolicyDocument"]]
        else:
            continue
        for document in documents:
            for statement in document.get("Statement", []):
                # `!If [Condition, Statement, !Ref AWS::NoValue]`
                if isinstance(statement, dict) and set(statement) == {"If"}:
                    statement = statement["If"][1]
                yield name, statement


def as_list(value):
    return value if isinstance(value, list) else [value]


def problems(template, documented):
    found = set()
    unscoped_used = set()
    errors = []
    for policy, statement in statements(template):
        sid = statement.get("Sid")
        if not sid:
            errors.append(f"{policy}: a statement without a Sid")
            continue
        actions = as_list(statement.get("Action"))
        unscoped = statement.get("Resource") in ("*", ["*"])
        for action in actions:
            found.add((policy, sid, action))
            if "*" in action:
                errors.append(f"{policy}/{sid}: wildcard action {action}")
            if unscoped and action not in UNSCOPABLE:
                errors.append(f"{policy}/{sid}: {action} on Resource \"*\", but IAM can scope it")
            if unscoped:
                unscoped_used.add(action)
    # The list stays honest: no action in it that the template no longer grants on "*".
    for stale in sorted(UNSCOPABLE - unscoped_used):
        errors.append(f"UNSCOPABLE lists {stale}, which no statement grants on Resource \"*\"")
    for missing in sorted(found - documented):
        errors.append(f"{'/'.join(missing)}: in template.yaml, not in docs/IAM.md")
    for extra in sorted(documented - found):
        errors.append(f"{'/'.join(extra)}: in docs/IAM.md, not in template.yaml")
    return errors


def documented_permissions():
    """(policy, Sid, action) of every row of docs/IAM.md's table: `| policy | Sid | actions | ...`."""
    rows = set()
    for line in TABLE.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 4 or not line.startswith("|") or cells[0] in ("policy", "") or set(cells[0]) <= {"-", ":"}:
            continue
        for action in re.findall(r"`([a-z0-9-]+:[A-Za-z*]+)`", cells[2]):
            rows.add((cells[0].strip("`"), cells[1].strip("`"), action))
    return rows


def main():
    template = cfn_yaml.load(TEMPLATE.read_text())
    documented = documented_permissions()
    errors = problems(template, documented)
    if "--self-test" in sys.argv:
        broken = copy.deepcopy(template)
        role = broken["Resources"]["ExportTriggerScheduleRole"]["Properties"]["Policies"][0]
        role["PolicyDocument"]["Statement"].append(
            {"Sid": "Broken", "Effect": "Allow", "Action": ["s3:*", "sqs:SendMessage"], "Resource": "*"}
        )
        # A describe call scoped after all would leave UNSCOPABLE listing it for nothing.
        vpc = broken["Resources"]["VpcAccessPolicy"]["Properties"]["PolicyDocument"]["Statement"]
        next(s for s in vpc if s["Sid"] == "VpcDescribe")["Action"] = ["ec2:DescribeNetworkInterfaces"]
        caught = problems(broken, documented)
        for expected in ("wildcard action s3:*", "sqs:SendMessage on Resource", "Broken/sqs:SendMessage: in template.yaml, not in docs",
                         "UNSCOPABLE lists ec2:DescribeSubnets"):
            if not any(expected in e for e in caught):
                errors.append(f"self-test: a broken copy was not refused for {expected!r}")
    for error in errors:
        print(f"check-iam: {error}", file=sys.stderr)
    if errors:
        return 1
    print(f"check-iam: {len(documented)} permissions, each documented, none wildcard or needlessly unscoped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
