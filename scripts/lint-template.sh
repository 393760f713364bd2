#!/usr/bin/env bash
# Lint template.yaml with cfn-lint, installed in a venv outside the clone.
#
# cfn-lint is pinned: newer releases skip the SAM transform and so miss errors
# inside AWS::Serverless::Function. The venv lives under
# ${CDC_TOOLS_DIR:-$HOME/.cache/ddb-cdc-tools} and is reused when it already
# holds the pinned version. Exits non-zero on any lint error (or warning).
set -euo pipefail

CFN_LINT_VERSION="1.53.3"
TOOLS_DIR="${CDC_TOOLS_DIR:-$HOME/.cache/ddb-cdc-tools}"
VENV="$TOOLS_DIR/cfn-lint-venv"

cd "$(dirname "$0")/.."

installed_version() {
    "$VENV/bin/python" -c \
        'import importlib.metadata as m; print(m.version("cfn-lint"))' 2>/dev/null || true
}

if [[ "$(installed_version)" != "$CFN_LINT_VERSION" ]]; then
    echo "lint-template: installing cfn-lint==$CFN_LINT_VERSION into $VENV" >&2
    mkdir -p "$TOOLS_DIR"
    if [[ ! -x "$VENV/bin/python" ]]; then
        python3 -m venv "$VENV"
    fi
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "cfn-lint==$CFN_LINT_VERSION"
    if [[ "$(installed_version)" != "$CFN_LINT_VERSION" ]]; then
        echo "lint-template: cfn-lint $CFN_LINT_VERSION did not install in $VENV" >&2
        exit 1
    fi
fi

# Region is only for the schemas cfn-lint checks against; no AWS calls are made.
"$VENV/bin/cfn-lint" --regions "${AWS_REGION:-us-east-1}" -- template.yaml
echo "lint-template: template.yaml OK (cfn-lint $CFN_LINT_VERSION)"

# The lint must be able to fail: a copy with an unknown runtime and a property SAM does not
# have is refused.
BROKEN="$(mktemp -d)"
trap 'rm -rf "$BROKEN"' EXIT
sed -e 's/Runtime: provided.al2023/Runtime: provided.al2099/' \
    -e 's/      MemorySize: !Ref MemorySize/      MemorySize: !Ref MemorySize\n      NoSuchProperty: 1/' \
    template.yaml > "$BROKEN/template.yaml"
if "$VENV/bin/cfn-lint" --regions "${AWS_REGION:-us-east-1}" -- "$BROKEN/template.yaml" > /dev/null 2>&1; then
    echo "lint-template: a deliberately broken copy of template.yaml passed cfn-lint" >&2
    exit 1
fi
echo "lint-template: a deliberately broken copy is refused"

# Least privilege, and every permission in docs/IAM.md's reviewed table (PyYAML comes with
# cfn-lint); --self-test also checks that a broken copy is refused.
"$VENV/bin/python" scripts/check-iam.py --self-test
# samconfig.example.toml's environments: valid values, the template's Rules, and each sink URL
# (typed or free-form) allowed by its function's role; --self-test: broken copies are refused.
"$VENV/bin/python" scripts/check-samconfig.py --self-test
