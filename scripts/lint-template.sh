#!/usr/bin/env bash
# Lint template.yaml with cfn-lint and `sam validate`, each installed, pinned, in a venv of its
# own outside the clone, then check its IAM policies and samconfig.example.toml.
#
# cfn-lint is pinned: newer releases skip the SAM transform and so miss errors inside
# AWS::Serverless::Function (the cfn-lint that aws-sam-cli brings for `sam validate --lint`,
# 1.58.0 with aws-sam-cli 1.170.0, passes an unknown Runtime there). `sam validate` runs SAM's
# own translator, offline (a Region is all it needs). The venvs live under
# ${CDC_TOOLS_DIR:-$HOME/.cache/ddb-cdc-tools} and are reused when they already hold the
# pinned versions. Exits non-zero on any lint error (or warning), and if a deliberately broken
# copy of the template passes any of the tools.
set -euo pipefail

CFN_LINT_VERSION="1.53.3"
SAM_CLI_VERSION="1.170.0"
TOOLS_DIR="${CDC_TOOLS_DIR:-$HOME/.cache/ddb-cdc-tools}"
VENV="$TOOLS_DIR/cfn-lint-venv"
SAM_VENV="$TOOLS_DIR/sam-cli-venv"

cd "$(dirname "$0")/.."

installed_version() { # VENV PACKAGE
    "$1/bin/python" -c \
        "import importlib.metadata as m; print(m.version('$2'))" 2>/dev/null || true
}

# Installs PACKAGE==VERSION into VENV unless it is there already.
ensure_venv() { # VENV PACKAGE VERSION
    local venv=$1 package=$2 version=$3
    if [[ "$(installed_version "$venv" "$package")" != "$version" ]]; then
        echo "lint-template: installing $package==$version into $venv" >&2
        mkdir -p "$TOOLS_DIR"
        if [[ ! -x "$venv/bin/python" ]]; then
            python3 -m venv "$venv"
        fi
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
            "$package==$version"
        if [[ "$(installed_version "$venv" "$package")" != "$version" ]]; then
            echo "lint-template: $package $version did not install in $venv" >&2
            exit 1
        fi
    fi
}

ensure_venv "$VENV" cfn-lint "$CFN_LINT_VERSION"
ensure_venv "$SAM_VENV" aws-sam-cli "$SAM_CLI_VERSION"

REGION="${AWS_REGION:-${AWS_DEFAULT_REGION:-us-east-1}}"
# SAM CLI keeps its settings in a folder of its own here rather than ~/.aws-sam, with
# telemetry off and its weekly version check (a call to PyPI) marked as done: `sam validate`
# then makes no network call at all.
SAM_HOME="$TOOLS_DIR/sam-cli-home"
mkdir -p "$SAM_HOME"
echo '{"telemetryEnabled": false, "lastVersionCheck": 32503680000.0}' > "$SAM_HOME/metadata.json"
sam_validate() { # TEMPLATE [--lint]
    __SAM_CLI_APP_DIR="$SAM_HOME" SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION="$REGION" \
        "$SAM_VENV/bin/sam" validate --template "$@"
}

# Region is only for the schemas cfn-lint checks against; no AWS calls are made.
"$VENV/bin/cfn-lint" --regions "$REGION" -- template.yaml
echo "lint-template: template.yaml OK (cfn-lint $CFN_LINT_VERSION)"
sam_validate template.yaml
sam_validate template.yaml --lint
echo "lint-template: template.yaml OK (sam validate and sam validate --lint, aws-sam-cli $SAM_CLI_VERSION)"

# The lint must be able to fail: a copy with an unknown runtime and a property SAM does not
# have is refused by each tool.
BROKEN="$(mktemp -d)"
trap 'rm -rf "$BROKEN"' EXIT
sed -e 's/Runtime: provided.al2023/Runtime: provided.al2099/' \
    -e 's/      MemorySize: !Ref MemorySize/      MemorySize: !Ref MemorySize\n      NoSuchProperty: 1/' \
    template.yaml > "$BROKEN/template.yaml"
if cmp -s template.yaml "$BROKEN/template.yaml"; then
    echo "lint-template: the broken copy is not broken (the sed patterns no longer match)" >&2
    exit 1
fi
if "$VENV/bin/cfn-lint" --regions "$REGION" -- "$BROKEN/template.yaml" > /dev/null 2>&1; then
    echo "lint-template: a deliberately broken copy of template.yaml passed cfn-lint" >&2
    exit 1
fi
if sam_validate "$BROKEN/template.yaml" > /dev/null 2>&1; then
    echo "lint-template: a deliberately broken copy of template.yaml passed sam validate" >&2
    exit 1
fi
if sam_validate "$BROKEN/template.yaml" --lint > /dev/null 2>&1; then
    echo "lint-template: a deliberately broken copy of template.yaml passed sam validate --lint" >&2
    exit 1
fi
echo "lint-template: a deliberately broken copy is refused (cfn-lint, sam validate, sam validate --lint)"

# Least privilege, and every permission in docs/IAM.md's reviewed table (PyYAML comes with
# cfn-lint); --self-test also checks that a broken copy is refused.
"$VENV/bin/python" scripts/check-iam.py --self-test
# samconfig.example.toml's environments: valid values, the template's Rules, and each sink URL
# (typed or free-form) allowed by its function's role; --self-test: broken copies are refused.
"$VENV/bin/python" scripts/check-samconfig.py --self-test
