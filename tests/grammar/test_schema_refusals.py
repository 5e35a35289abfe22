"""JSON Schema -> regex: supported keywords compile to a regex that matches exactly the canonical JSON
the schema allows; anything else is refused in one line naming the keyword and its JSON path."""
import json
import re

import pytest

from edgec.errors import EdgecError
from edgec.grammar.schema_to_regex import schema_to_regex

REFUSED = [   # (schema, keyword, path)
    ({"$ref": "#/definitions/x"}, "$ref", "$"),
    ({"type": "object", "properties": {"a": {"$ref": "#"}}}, "$ref", "$.properties.a"),
    ({"type": "string", "minLength": 2}, "minLength", "$"),
    ({"type": "string", "format": "email"}, "format", "$"),
    ({"type": "object", "properties": {"a": {"type": "integer", "exclusiveMinimum": 0}}}, "exclusiveMinimum",
     "$.properties.a"),
    ({"type": "array", "items": {"type": "string"}, "minItems": 1}, "minItems", "$"),
    ({"type": "array", "items": {"type": "string", "allOf": []}}, "allOf", "$.items"),
    ({"anyOf": [{"type": "null"}, {"not": {"type": "null"}}]}, "not", "$.anyOf[1]"),
    ({"type": "object", "patternProperties": {".*": {}}}, "patternProperties", "$"),
    ({"type": "object", "additionalProperties": True}, "additionalProperties", "$"),
    ({"type": ["string", "null"]}, "type", "$"),
    ({"type": "number", "minimum": 0}, "minimum", "$"),
    ({"type": "string", "pattern": "[a-z]+", "maxLength": 3}, "maxLength", "$"),
    ({"oneOf": [{"type": "tuple"}]}, "type", "$.oneOf[0]"),
]


@pytest.mark.parametrize("schema,keyword,path", REFUSED, ids=[f"{k}@{p}" for _, k, p in REFUSED])
def test_unsupported_keyword_is_refused_naming_keyword_and_path(schema, keyword, path):
    with pytest.raises(EdgecError) as e:
        schema_to_regex(schema)
    message = str(e.value)
    assert f"'{keyword}' at {path} " in message and "\n" not in message, message


@pytest.mark.parametrize("schema", [{"type": "integer", "minimum": 0}, {"type": "integer", "minimum": 0,
                                                                      "maximum": 100000}])
def test_integer_range_needs_two_close_bounds(schema):
    with pytest.raises(EdgecError, match="integer range .*give both bounds"):
        schema_to_regex(schema)


SUPPORTED = [   # (schema, documents it allows, documents it forbids)
    ({"type": "object", "properties": {"device": {"enum": ["light", "fan"]}, "level": {"type": "integer",
      "minimum": -2, "maximum": 10}}, "required": ["device"]},
     [{"device": "fan"}, {"device": "light", "level": -2}, {"device": "light", "level": 10}],
     [{"device": "tv"}, {"device": "fan", "level": 11}, {"level": 3}, {"level": 3, "device": "fan"}]),
    ({"type": "string", "maxLength": 3}, ["abc", "a", ""], ["abcd"]),
    ({"type": "string", "pattern": "^[a-z]{1,3}$"}, ["abc", "a"], ["abcd", "ABC", ""]),
    ({"type": "string", "const": "x\"y"}, ["x\"y"], ["xy"]),
    ({"type": "array", "items": {"type": "boolean"}, "maxItems": 2}, [[], [True, False]], [[True] * 3, [1]]),
    ({"anyOf": [{"type": "null"}, {"type": "number"}]}, [None, 1.5, -3], ["1", True]),
    ({"oneOf": [{"type": "object", "required": ["a"], "properties": {
        "a": {"type": "object", "properties": {"b": {"type": "null"}}, "required": ["b"]}}}]},
     [{"a": {"b": None}}], [{"a": {}}]),
]


@pytest.mark.parametrize("schema,good,bad", SUPPORTED, ids=[json.dumps(s)[:30] for s, _, _ in SUPPORTED])
def test_supported_schema_matches_exactly_its_canonical_json(schema, good, bad):
    regex = schema_to_regex(schema)
    for doc in good:
        assert re.fullmatch(regex, json.dumps(doc, separators=(",", ":"))), (doc, regex)
    for doc in bad:
        assert not re.fullmatch(regex, json.dumps(doc, separators=(",", ":"))), (doc, regex)


def test_schema_from_file(tmp_path):
    path = tmp_path / "yesno.schema.json"
    path.write_text(json.dumps({"enum": ["yes", "no"]}))
    assert re.fullmatch(schema_to_regex(str(path)), '"yes"')
