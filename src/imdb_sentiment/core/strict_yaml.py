"""YAML as a params file may be written: PyYAML's safe loader (YAML 1.1), refusing what it
would read silently, or read otherwise than DVC's YAML 1.2 reader does: a key given twice in
one mapping, a key that is not a name, a merge key (`<<`), and scalars the two versions read
differently (`010`, `1_000`, `1:30`, `yes`, `1e-3`, `08`).
"""

from __future__ import annotations

import re
from typing import Any

import yaml

# what YAML 1.2's core schema (DVC's reader) reads as a number
YAML12_NUMBER = re.compile(
    r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+|[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?"
    r"|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)"
)


class StrictLoader(yaml.SafeLoader):
    """YAML's safe loader, except that a key given twice in one mapping is an error (plain
    YAML keeps the last one silently), and so are a key that is not a name, a merge key and
    a scalar YAML 1.1 and 1.2 read differently."""

    def construct_mapping(self, node, deep=False):
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                # flattening nested merges copies nodes, so a few hundred bytes could
                # expand without bound; the project's params file has no need of them
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    "a merge key ('<<') is not supported: write the keys out",
                    key_node.start_mark,
                )
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str):
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is not a name", key_node.start_mark
                )
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node):
        digits = node.value.lstrip("+-")
        if "_" in digits:
            self._ambiguous(
                node,
                "has an underscore: YAML 1.1 reads a number, YAML 1.2 (DVC) "
                "a string; write it without",
            )
        if ":" in digits:
            self._ambiguous(
                node,
                "is a base 60 number to YAML 1.1 and a string to YAML 1.2 "
                "(DVC); write the number itself",
            )
        if digits[:2].lower() == "0b" or (
            len(digits) > 1 and digits[0] == "0" and digits[1] not in "xX"
        ):
            self._ambiguous(
                node,
                "has a leading zero: YAML 1.1 reads binary or octal, YAML 1.2 "
                "(DVC) a decimal or a string; write it without",
            )
        return super().construct_yaml_int(node)

    def construct_yaml_float(self, node):
        if "_" in node.value or ":" in node.value:
            self._ambiguous(
                node,
                "has an underscore or is base 60: YAML 1.1 reads a number, "
                "YAML 1.2 (DVC) a string; write the number itself",
            )
        return super().construct_yaml_float(node)

    def construct_yaml_bool(self, node):
        if node.value.lower() not in ("true", "false"):
            self._ambiguous(
                node, "is a boolean to YAML 1.1 and a string to YAML 1.2 (DVC): write true or false"
            )
        return super().construct_yaml_bool(node)

    def construct_yaml_str(self, node):
        if node.style is None and YAML12_NUMBER.fullmatch(node.value):
            self._ambiguous(
                node,
                f"is a string to YAML 1.1 and a number to YAML 1.2 (DVC): {_respell(node.value)}",
            )
        return super().construct_yaml_str(node)

    @staticmethod
    def _ambiguous(node, problem: str) -> None:
        raise yaml.constructor.ConstructorError(
            None, None, f"{node.value!r} {problem}", node.start_mark
        )


def _respell(value: str) -> str:
    """How to write `value` so that both YAML versions read it alike."""
    mantissa, e, exponent = value.lower().partition("e")
    if e and mantissa.lstrip("+-").replace(".", "", 1).isdigit():
        mantissa = mantissa if "." in mantissa else mantissa + ".0"
        mantissa = mantissa.replace("-.", "-0.").replace("+.", "+0.")
        mantissa = "0" + mantissa if mantissa.startswith(".") else mantissa
        sign = "" if exponent[:1] in "+-" else "+"
        return f"write {mantissa}e{sign}{exponent}, or quote it if it is text"
    return "write it as a plain decimal, or quote it if it is text"


for _tag, _construct in (
    ("int", StrictLoader.construct_yaml_int),
    ("float", StrictLoader.construct_yaml_float),
    ("bool", StrictLoader.construct_yaml_bool),
    ("str", StrictLoader.construct_yaml_str),
):
    StrictLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", _construct)


def load(text: str) -> Any:
    """Parse `text`; a yaml.YAMLError names what was refused, and where."""
    return yaml.load(text, Loader=StrictLoader)
