#!/usr/bin/env python3
"""Keeps a samconfig deployable, and every sink it configures permitted.

For every environment of samconfig.example.toml (or the file given) whose deploy parameters
have parameter_overrides:
  * every parameter named is one of template.yaml's and its value is one the template accepts
    (AllowedPattern, AllowedValues, MinLength, MinValue/MaxValue);
  * the template's Rules hold (at least one sink; the OpenSearch sink's three parameters...);
  * the template is evaluated with those values, as CloudFormation would (Conditions, !If, !Sub,
    !Join, !Select, !Split; the account from SourceStreamArn, the Region from the environment):
    stream-handler and export-processor get the same CDC_SINKS, each sink URL in it has a shape
    the sinks accept, and for each function a statement of its role (inline or managed) allows
    every call that sink makes on the resource its URL names. A free-form URL in `Sinks` whose
    ARN parameter names another resource, or a typed parameter whose statement drifted from its
    URL, is refused here instead of stalling a shard after the deploy.

Usage: check-samconfig.py [--self-test] [SAMCONFIG]. Needs PyYAML (cfn-lint's venv has it).
--self-test also checks that broken copies are refused.
"""

import copy
import fnmatch
import re
import sys
import tomllib
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import cfn_yaml

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ("StreamHandler", "ExportProcessor")
NO_VALUE = object()




class Stack:
    """template.yaml evaluated with one environment's parameter values."""

    def __init__(self, template, values, region, stack_name):
        self.template = template
        self.values = values
        account = values.get("SourceStreamArn", "").split(":")
        self.pseudo = {
            "AWS::Region": region,
            "AWS::AccountId": account[4] if len(account) > 4 else "111122223333",
            "AWS::Partition": "aws-cn" if region.startswith("cn-") else "aws",
            "AWS::URLSuffix": "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com",
            "AWS::StackName": stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{region}:000000000000:stack/{stack_name}/"
                            "00000000-0000-0000-0000-000000000000",
        }

    def ref(self, name):
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        parameter = self.template["Parameters"].get(name)
        if parameter is None:
            return f"<{name}>"  # a resource of the stack: a placeholder, never a sink's resource
        value = self.values.get(name, str(parameter.get("Default", "")))
        return value.split(",") if parameter["Type"] == "CommaDelimitedList" else value

    def condition(self, name):
        return self.eval(self.template["Conditions"][name])

    def eval(self, node):
        if isinstance(node, list):
            return [v for v in (self.eval(n) for n in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) != 1:
            return {k: v for k, v in ((k, self.eval(n)) for k, n in node.items()) if v is not NO_VALUE}
        (name, arg), = node.items()
        name = name.removeprefix("Fn::")
        if name == "Ref":
            return self.ref(arg)
        if name == "Condition":
            return self.condition(arg)
        if name == "If":
            return self.eval(arg[1] if self.condition(arg[0]) else arg[2])
        if name == "Equals":
            left, right = (self.eval(a) for a in arg)
            return left == right
        if name == "Not":
            return not self.eval(arg[0])
        if name == "And":
            return all(self.eval(a) for a in arg)
        if name == "Or":
            return any(self.eval(a) for a in arg)
        if name == "EachMemberEquals":  # a rule function
            return all(v == self.eval(arg[1]) for v in as_list(self.eval(arg[0])))
        if name == "Join":
            return arg[0].join(str(v) for v in self.eval(arg[1]))
        if name == "Split":
            return self.eval(arg[1]).split(arg[0])
        if name == "Select":
            return self.eval(arg[1])[int(self.eval(arg[0]))]
        if name == "GetAtt":
            return f"<{arg}>"
        if name == "Sub":
            text, names = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
            names = {k: self.eval(v) for k, v in names.items()}

            def substitute(match):
                key = match.group(1)
                if key in names:
                    return str(names[key])
                if "." in key and key.split(".")[0] in self.template["Resources"]:
                    return f"<{key}>"
                value = self.ref(key)
                return ",".join(value) if isinstance(value, list) else str(value)

            return re.sub(r"\$\{([^}!]+)\}", substitute, text)
        return {name: self.eval(arg)}

    def sinks(self, function):
        variables = self.template["Resources"][function]["Properties"]["Environment"]["Variables"]
        return self.eval(variables["CDC_SINKS"])

    def statements(self, function):
        """Every Allow statement of the function's role, its managed policies' included."""
        role = self.template["Resources"][function]["Properties"]["Role"]["GetAtt"].split(".")[0]
        properties = self.template["Resources"][role]["Properties"]
        documents = [p["PolicyDocument"] for p in properties.get("Policies", [])]
        for arn in self.eval(properties.get("ManagedPolicyArns", [])):
            name = arn.strip("<>")
            if name in self.template["Resources"]:
                documents.append(self.template["Resources"][name]["Properties"]["PolicyDocument"])
        found = []
        for document in documents:
            for statement in self.eval(document["Statement"]):
                if statement.get("Effect") == "Allow":
                    found.append(statement)
        return found


def as_list(value):
    return value if isinstance(value, list) else [value]


def allows(statements, action, resource):
    for statement in statements:
        actions = [a.lower() for a in as_list(statement.get("Action", []))]
        if action.lower() not in actions:
            continue
        if any(fnmatch.fnmatchcase(resource, r) for r in as_list(statement.get("Resource", []))):
            return True
    return False


def granted_resources(statements, action):
    return [r for s in statements if action.lower() in [a.lower() for a in as_list(s.get("Action", []))]
            for r in as_list(s.get("Resource", []))]


class BadUrl(Exception):
    pass


def needs(url, function, stack, statements):
    """What `url` calls, as (action, resource) pairs; raises BadUrl for a shape no sink accepts.
    Mirrors shared/sinks' parsing (README, "Sinks")."""
    region, account = stack.pseudo["AWS::Region"], stack.pseudo["AWS::AccountId"]
    partition = stack.pseudo["AWS::Partition"]
    table = stack.values.get("SourceStreamArn", "x/orders/stream/x").split("/")[1]
    base, _, query = url.partition("?")
    options = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    scheme, separator, target = base.partition("://")
    target = target.replace("{table}", table)
    if scheme == "stdout" and not separator:
        return []
    if scheme == "file":
        if not target.startswith("/"):
            raise BadUrl("file:// needs an absolute path")
        return []
    if scheme == "dynamodb":
        if not re.fullmatch(r"[a-zA-Z0-9_.-]{3,255}", target):
            raise BadUrl("expected dynamodb://TABLE")
        arn = f"arn:{partition}:dynamodb:{region}:{account}:table/{target}"
        mode = options.get("mode", "replica")
        if mode == "replica":
            writes = ["dynamodb:PutItem"] + (["dynamodb:DeleteItem"] if options.get("tombstones") == "false" else [])
        elif mode in ("history", "batch"):
            writes = ["dynamodb:BatchWriteItem"]
        else:
            raise BadUrl(f"mode={mode} is not replica, history or batch")
        return [(a, arn) for a in ["dynamodb:DescribeTable", *writes]]
    if scheme == "s3":
        bucket, _, prefix = target.partition("/")
        if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket):
            raise BadUrl("expected s3://BUCKET/PREFIX with a valid bucket name")
        prefix = prefix.strip("/")
        key = f"{prefix + '/' if prefix else ''}table={table}/date=2026-01-01/1-2.jsonl.gz"
        return [("s3:PutObject", f"arn:{partition}:s3:::{bucket}/{key}")]
    if scheme in ("opensearch+https", "opensearch+http"):
        host, slash, index = target.partition("/")
        if not slash or not re.fullmatch(r"[a-z0-9][a-z0-9_.{}-]*", index) or not host:
            raise BadUrl("expected opensearch+https://HOST/INDEX (index lowercase)")
        host = host.rsplit(":", 1)[0]
        auth = options.get("auth", "sigv4" if scheme == "opensearch+https" else "none")
        if auth == "basic":
            secret = options.get("secret", "")
            if not secret:
                raise BadUrl("auth=basic needs secret=SECRET_ID")
            arn = secret if secret.startswith("arn:") else \
                f"arn:{partition}:secretsmanager:{region}:{account}:secret:{secret}-AbCdEf"
            return [("secretsmanager:GetSecretValue", arn)]
        if auth != "sigv4":
            return []
        os_region = options.get("region", region)
        if options.get("service") == "aoss" or host.endswith(".aoss.amazonaws.com"):
            collection = host.split(".")[0]
            return [("aoss:APIAccessAll", f"arn:{partition}:aoss:{os_region}:{account}:collection/{collection}")]
        # The domain's name is in its endpoint: search-NAME-HASH or vpc-NAME-HASH. Of the
        # domains the role may post to, the one whose name fits is the sink's.
        domains = [m.group(1) for r in granted_resources(statements, "es:ESHttpPost")
                   for m in [re.match(rf"arn:[^:]+:es:{re.escape(os_region)}:{account}:domain/([a-z0-9-]+)/", r)] if m]
        domain = next((d for d in sorted(domains, key=len, reverse=True)
                       if re.fullmatch(rf"(search|vpc)-{re.escape(d)}-[a-z0-9]+\..*", host)), None)
        if domain is None:
            return [("es:ESHttpPost", f"arn:{partition}:es:{os_region}:{account}:domain/<the domain of {host}>/_bulk")]
        prefix = f"arn:{partition}:es:{os_region}:{account}:domain/{domain}"
        wanted = [("es:ESHttpPost", f"{prefix}/_bulk")]
        if function == "ExportProcessor":
            # Before a load: GET /INDEX/_settings/index.gc_deletes.
            wanted.append(("es:ESHttpGet", f"{prefix}/{index.replace('{table}', table)}/_settings/index.gc_deletes"))
        return wanted
    if scheme == "sqs":
        if target.startswith(("https://", "http://")):
            parts = urlsplit(target)
            host_region = re.match(r"sqs\.([a-z0-9-]+)\.", parts.netloc)
            path = unquote(parts.path).strip("/").split("/")
            if len(path) != 2:
                raise BadUrl("expected sqs://https://sqs.REGION.amazonaws.com/ACCOUNT/NAME")
            q_region = host_region.group(1) if host_region else region
            return [("sqs:SendMessage", f"arn:{partition}:sqs:{q_region}:{path[0]}:{path[1]}")]
        if not re.fullmatch(r"[a-zA-Z0-9_-]{1,80}(\.fifo)?", target):
            raise BadUrl("expected sqs://QUEUE_NAME or sqs://QUEUE_URL")
        arn = f"arn:{partition}:sqs:{region}:{account}:{target}"
        return [("sqs:GetQueueUrl", arn), ("sqs:SendMessage", arn)]
    if scheme == "sns":
        if not target.startswith("arn:"):
            raise BadUrl("expected sns://TOPIC_ARN")
        return [("sns:Publish", target)]
    if scheme == "kinesis":
        arn = target if target.startswith("arn:") else f"arn:{partition}:kinesis:{region}:{account}:stream/{target}"
        return [("kinesis:PutRecords", arn)]
    if scheme == "events":
        arn = target if target.startswith("arn:") else f"arn:{partition}:events:{region}:{account}:event-bus/{target}"
        return [("events:PutEvents", arn)]
    raise BadUrl(f"unknown scheme {scheme!r}")


def check_value(name, parameter, value):
    """Why CloudFormation would refuse `value` for the parameter, or None."""
    kind = parameter["Type"]
    values = value.split(",") if kind == "CommaDelimitedList" else [value]
    if kind == "Number":
        try:
            number = float(value)
        except ValueError:
            return f"{name}={value!r} is not a number"
        if "MinValue" in parameter and number < float(parameter["MinValue"]):
            return f"{name}={value} is below {parameter['MinValue']}"
        if "MaxValue" in parameter and number > float(parameter["MaxValue"]):
            return f"{name}={value} is above {parameter['MaxValue']}"
    if "AllowedValues" in parameter and value not in [str(v) for v in parameter["AllowedValues"]]:
        return f"{name}={value!r} is not one of {parameter['AllowedValues']}"
    if len(value) < int(parameter.get("MinLength", 0)):
        return f"{name} needs at least {parameter['MinLength']} characters"
    pattern = parameter.get("AllowedPattern")
    if pattern and not all(re.fullmatch(pattern, v) for v in values):
        return f"{name}={value!r} does not match {pattern}"
    return None


def rule_problems(stack):
    problems = []
    for name, rule in stack.template.get("Rules", {}).items():
        if "RuleCondition" in rule and not stack.eval(rule["RuleCondition"]):
            continue
        for assertion in rule["Assertions"]:
            if not stack.eval(assertion["Assert"]):
                problems.append(f"rule {name}: {' '.join(assertion['AssertDescription'].split())}")
    return problems


def overrides_of(commands):
    overrides = commands["deploy"]["parameters"].get("parameter_overrides")
    if isinstance(overrides, str):
        overrides = overrides.split()
    return None if overrides is None else dict(o.split("=", 1) for o in overrides)


def problems(template, config):
    parameters = template["Parameters"]
    default_region = config.get("default", {}).get("deploy", {}).get("parameters", {}).get("region", "us-east-1")
    errors = []
    for env, commands in config.items():
        if not isinstance(commands, dict) or "deploy" not in commands:
            continue
        given = overrides_of(commands)
        if given is None:
            continue
        deploy = commands["deploy"]["parameters"]
        for name, value in given.items():
            if name not in parameters:
                errors.append(f"[{env}] {name} is not a parameter of template.yaml")
            elif (problem := check_value(name, parameters[name], value)):
                errors.append(f"[{env}] {problem}")
        for name in sorted(n for n, p in parameters.items() if "Default" not in p and n not in given):
            errors.append(f"[{env}] the required parameter {name} has no value")
        stack = Stack(template, given, deploy.get("region", default_region), deploy.get("stack_name", env))
        errors += [f"[{env}] {p}" for p in rule_problems(stack)]
        urls = {f: stack.sinks(f) for f in FUNCTIONS}
        if len(set(urls.values())) != 1:
            errors.append(f"[{env}] the functions' CDC_SINKS differ: {urls}")
        for function in FUNCTIONS:
            statements = stack.statements(function)
            for url in filter(None, urls[function].split(",")):
                try:
                    wanted = needs(url, function, stack, statements)
                except BadUrl as e:
                    errors.append(f"[{env}] sink {url}: {e}")
                    continue
                for action, resource in wanted:
                    if not allows(statements, action, resource):
                        errors.append(f"[{env}] sink {url}: {function}'s role does not allow {action} on {resource}")
    return errors


def self_test(template, config):
    """Broken copies, each of which must be refused for the reason given."""
    env = "replica"
    base = {k: v for k, v in config.items() if not isinstance(v, dict) or "deploy" not in v or k in ("default", env)}
    given = overrides_of(config[env])
    errors = []

    def refused(label, broken_template, broken_given, expected):
        broken_config = copy.deepcopy(base)
        broken_config[env]["deploy"]["parameters"]["parameter_overrides"] = [f"{k}={v}" for k, v in broken_given.items()]
        caught = problems(broken_template, broken_config)
        if not any(expected in e for e in caught):
            errors.append(f"self-test: {label} was not refused for {expected!r} (got {caught})")

    table_arn = given["SourceStreamArn"].split("/stream/")[0]
    other = {**given, "Sinks": "dynamodb://orders-other", "ReplicaTableArns": table_arn.rsplit("/", 1)[0] + "/orders-elsewhere"}
    refused("a Sinks URL whose ARN parameter names another table", template, other,
            "does not allow dynamodb:PutItem on arn:aws:dynamodb:eu-west-1:111122223333:table/orders-other")
    no_sink = {k: v for k, v in given.items() if k not in ("ReplicaTableName", "Sinks")}
    refused("an environment without a sink", template, no_sink, "rule AtLeastOneSink")
    drifted = copy.deepcopy(template)
    for statement in drifted["Resources"]["SinkWritePolicy"]["Properties"]["PolicyDocument"]["Statement"]:
        if "If" in statement and statement["If"][1].get("Sid") == "ReplicaTableWrite":
            statement["If"][1]["Resource"]["Sub"] += "-old"
    refused("a typed statement that no longer names its sink's table", drifted, given,
            "does not allow dynamodb:DescribeTable on arn:aws:dynamodb:eu-west-1:111122223333:table/orders-replica")
    refused("an OpenSearch endpoint without its domain", template,
            {**given, "OpenSearchEndpoint": "search-orders-abc123.eu-west-1.es.amazonaws.com", "OpenSearchIndex": "orders"},
            "rule OpenSearchSinkComplete")
    refused("a value outside AllowedPattern", template, {**given, "ReplicaTableName": "orders replica"},
            "ReplicaTableName='orders replica' does not match")
    refused("an unknown sink scheme", template, {**given, "Sinks": "kafka://orders"}, "unknown scheme 'kafka'")
    refused("subnets without security groups", template, {**given, "SubnetIds": "subnet-0123456789abcdef0"},
            "rule VpcComplete")
    return errors


def main():
    args = [a for a in sys.argv[1:] if a != "--self-test"]
    path = Path(args[0]) if args else ROOT / "samconfig.example.toml"
    template = cfn_yaml.load((ROOT / "template.yaml").read_text())
    config = tomllib.loads(path.read_text())
    errors = problems(template, config)
    if "--self-test" in sys.argv:
        errors += self_test(template, tomllib.loads((ROOT / "samconfig.example.toml").read_text()))
    for error in errors:
        print(f"check-samconfig: {error}", file=sys.stderr)
    if errors:
        return 1
    envs = sum(1 for c in config.values() if isinstance(c, dict) and "deploy" in c and overrides_of(c) is not None)
    print(f"check-samconfig: {path.name}: {envs} environments deployable, every sink permitted by its role")
    return 0


if __name__ == "__main__":
    sys.exit(main())
