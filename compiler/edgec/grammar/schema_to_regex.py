"""JSON Schema -> regular expression, with outlines-core doing the translation.

edgec's part is the gate in front of the library: a schema is walked first and any keyword outside
the supported set is refused in one line naming the keyword and its JSON path, because the library
silently ignores what it does not know (minimum/maximum, for one) and the device would then accept
output the schema forbids.  Integer ranges are rewritten as an enum of their values, which the
library does honour.  Output is whitespace-free canonical JSON.
"""
from __future__ import annotations

import json
from pathlib import Path

from edgec.errors import EdgecError

# Keywords that only describe a schema and never change which documents match.
ANNOTATIONS = {"title", "description", "$schema", "$id", "examples", "$comment"}
KEYWORDS_BY_TYPE = {
    "object": {"properties", "required", "additionalProperties"},
    "string": {"enum", "const", "maxLength", "pattern"},
    "integer": {"minimum", "maximum", "enum", "const"},
    "number": {"enum", "const"},
    "boolean": {"enum", "const"},
    "null": set(),
    "array": {"items", "maxItems"},
}
UNTYPED_KEYWORDS = {"anyOf", "oneOf", "enum", "const"}
MAX_INTEGER_RANGE = 1024   # an integer range becomes an enum of its values: bound the regex it makes


def load_schema(schema) -> dict:
    """A schema given as a dict, a JSON string or a path to a .json file, as a dict."""
    if isinstance(schema, dict):
        return schema
    path = Path(schema)
    text = path.read_text() if path.suffix == ".json" or path.is_file() else str(schema)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise EdgecError(f"grammar schema {schema!s:.60} is not valid JSON ({e.msg} at line {e.lineno}); "
                         "fix the schema file") from None
    if not isinstance(value, dict):
        raise EdgecError("grammar schema is not a JSON object; a JSON Schema starts with '{'")
    return value


def refuse(keyword: str, path: str, why: str = "is not supported") -> EdgecError:
    return EdgecError(f"grammar schema keyword '{keyword}' at {path} {why}; supported: object (properties, "
                      "required), string (enum, const, maxLength, pattern), integer (minimum, maximum), number, "
                      "boolean, null, array (items, maxItems), anyOf, oneOf, enum, const")


def check_schema(node, path: str = "$") -> None:
    """Raise EdgecError naming the first unsupported keyword (depth first, in declared order)."""
    if not isinstance(node, dict):
        raise refuse(type(node).__name__, path, "is a schema that is not an object")
    if "$ref" in node:
        raise refuse("$ref", path, "is not supported yet (recursive and referenced schemas need a depth "
                     "bound; inline the definition)")
    kind = node.get("type")
    if isinstance(kind, list) or (kind is not None and kind not in KEYWORDS_BY_TYPE):
        raise refuse("type", path, f"has the value {json.dumps(kind)}, which is not supported (use anyOf)")
    allowed = ANNOTATIONS | UNTYPED_KEYWORDS | {"type"} | KEYWORDS_BY_TYPE.get(kind, set())
    for keyword in node:
        if keyword not in allowed:
            raise refuse(keyword, path)
    _check_children(node, path)


def _check_children(node: dict, path: str) -> None:
    if "pattern" in node and "maxLength" in node:   # the library drops pattern when maxLength is given
        raise refuse("maxLength", path, "is not supported together with pattern (bound the pattern itself, "
                     "e.g. [a-z]{1,8})")
    if node.get("additionalProperties", False) is not False:
        raise refuse("additionalProperties", path, "is only supported as false")
    for name, child in node.get("properties", {}).items():
        check_schema(child, f"{path}.properties.{name}")
    if "items" in node:
        check_schema(node["items"], f"{path}.items")
    for keyword in ("anyOf", "oneOf"):
        for i, child in enumerate(node.get(keyword, [])):
            check_schema(child, f"{path}.{keyword}[{i}]")


def with_integer_ranges_as_enums(node):
    """A copy of a checked schema with each bounded integer turned into the enum of its values."""
    if not isinstance(node, dict):
        return node
    out = {k: ([with_integer_ranges_as_enums(c) for c in v] if k in ("anyOf", "oneOf") else
               {n: with_integer_ranges_as_enums(c) for n, c in v.items()} if k == "properties" else
               with_integer_ranges_as_enums(v) if k == "items" else v) for k, v in node.items()}
    if out.get("type") == "integer" and ("minimum" in out or "maximum" in out):
        out = _integer_enum(out)
    return out


def _integer_enum(node: dict) -> dict:
    low, high = node.get("minimum"), node.get("maximum")
    if low is None or high is None or int(low) != low or int(high) != high or high - low + 1 > MAX_INTEGER_RANGE:
        raise EdgecError(f"grammar schema integer range minimum={low} maximum={high} is not supported: give both "
                         f"bounds as integers spanning at most {MAX_INTEGER_RANGE} values")
    values = [v for v in range(int(low), int(high) + 1) if v in node.get("enum", [v])]
    return {k: v for k, v in node.items() if k not in ("minimum", "maximum", "type")} | {"enum": values}


def schema_to_regex(schema) -> str:
    """The regex (outlines-core syntax, a subset of Python's re) of the whitespace-free JSON the schema allows."""
    from outlines_core.json_schema import build_regex_from_schema
    node = load_schema(schema)
    check_schema(node)
    return build_regex_from_schema(json.dumps(with_integer_ranges_as_enums(node)), "")
