"""params.yaml read as DVC reads and writes it: YAML 1.2's core schema, on PyYAML.

DVC parses params with ruamel (YAML 1.2); plain ``yaml.safe_load`` is YAML 1.1, where ``1e-4``
is the string '1e-4', ``on``/``yes`` are True and ``012`` is 10. A stage must see the same value
DVC shows in ``dvc params diff``, so every reader of params.yaml goes through ``load``. PyYAML,
not ruamel, because the GPU image has no DVC and so maybe no ruamel; tests/test_yaml12.py checks
this loader against ruamel itself.
"""
from __future__ import annotations

import re

import yaml

__all__ = ["load", "Loader"]


class Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core-schema resolution of plain scalars."""


# Drop YAML 1.1's implicit resolvers and add 1.2's core schema, with the extensions ruamel keeps (digit
# underscores, 0b binaries, timestamps), so that every plain scalar resolves as DVC resolves it.
_TIMESTAMP = next(r for first in yaml.SafeLoader.yaml_implicit_resolvers.values() for tag, r in first
                  if tag == "tag:yaml.org,2002:timestamp")
Loader.yaml_implicit_resolvers = {}
_RESOLVERS = [
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?(?:0b[01_]+|0o[0-7_]+|0x[0-9a-fA-F_]+|[0-9][0-9_]*))$", "-+0123456789"),
    ("tag:yaml.org,2002:float",
     r"^(?:[-+]?(?:\.[0-9][0-9_]*|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?"
     r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", "-+0123456789."),
    ("tag:yaml.org,2002:merge", r"^(?:<<)$", "<"),
]
for _tag, _pattern, _first in _RESOLVERS:
    Loader.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))
Loader.add_implicit_resolver("tag:yaml.org,2002:timestamp", _TIMESTAMP, list("0123456789"))


def _int(loader: Loader, node: yaml.Node) -> int:
    text = loader.construct_scalar(node).replace("_", "")
    sign, digits = (-1, text[1:]) if text[0] == "-" else (1, text.lstrip("+"))
    base = {"0b": 2, "0o": 8, "0x": 16}.get(digits[:2])
    # '012' is twelve in YAML 1.2, not octal ten
    return sign * (int(digits[2:], base) if base else int(digits, 10))


def _float(loader: Loader, node: yaml.Node) -> float:
    text = loader.construct_scalar(node).lower().replace("_", "")
    if text.endswith((".inf", ".nan")):
        return float(text.replace(".", ""))  # '-.inf' -> '-inf', '.nan' -> 'nan'
    return float(text)  # '1e-4', '-.5', '1.' as Python reads them


def _bool(loader: Loader, node: yaml.Node) -> bool:
    return loader.construct_scalar(node).lower() == "true"


Loader.add_constructor("tag:yaml.org,2002:int", _int)
Loader.add_constructor("tag:yaml.org,2002:float", _float)
Loader.add_constructor("tag:yaml.org,2002:bool", _bool)


def load(text_or_stream):
    """The document as DVC sees it (YAML 1.2 core schema); safe: plain data only."""
    return yaml.load(text_or_stream, Loader=Loader)  # noqa: S506 (Loader derives from SafeLoader)
