"""CloudFormation templates as plain data, for the template checks (check-iam.py,
check-samconfig.py): short-form tags (`!Ref X`, `!If [...]`) read as one-key mappings
(`{"Ref": "X"}`, `{"If": [...]}`), without resolving anything."""

import yaml


class Loader(yaml.SafeLoader):
    """Reads CloudFormation's short-form tags (`!Ref`, `!If`...) as one-key mappings."""


def _tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node, deep=True)}
    return {suffix: loader.construct_mapping(node, deep=True)}


Loader.add_multi_constructor("!", _tag)


def load(text):
    """The template in `text`."""
    return yaml.load(text, Loader=Loader)
