"""One JSON Schema normaliser for import, the pool loader and export, checked on real benchmark tools."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from curator.errors import ImportFailed
from curator.importer import convert_tool, import_file
from curator.jsonschema_norm import SchemaError, normalize_schema
from curator.mixture.pools import load_tools
from curator.mixture.spec import SpecError
from curator.store.db import Workspace
from tests.conftest import FIXTURES

BFCL = FIXTURES / "bfcl"
BFCL_FILES = ("BFCL_v4_multiple.json", "BFCL_v4_live_simple.json")


def bfcl_functions() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for name in BFCL_FILES:
        for line in (BFCL / name).read_text(encoding="utf-8").splitlines():
            out.extend(json.loads(line)["function"])
    return out


def types_in(schema: Any) -> set[str]:
    """Every `type` value anywhere in a schema (names, and names inside type lists)."""
    found: set[str] = set()
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "type" and isinstance(value, str):
                found.add(value)
            elif key == "type" and isinstance(value, list) and all(isinstance(v, str) for v in value):
                found |= set(value)
            else:  # a property may be called "type": its value is a schema
                found |= types_in(value)
    elif isinstance(schema, list):
        for value in schema:
            found |= types_in(value)
    return found


def test_python_names_become_json_schema_types_at_every_depth() -> None:
    schema = {
        "type": "dict",
        "properties": {
            "ratio": {"type": "float"},
            "point": {"type": "tuple", "items": {"type": "float"}},
            "pair": {"type": "array", "items": [{"type": "int"}, {"type": "str"}]},
            "anything": {"type": "any", "description": "kept"},
            "odd": {"type": "complex128"},
            "either": {"type": ["string", "any"]},
            "nested": {
                "type": "dict",
                "properties": {"flag": {"type": "bool"}},
                "additionalProperties": {"type": "dict"},
            },
            "choice": {"anyOf": [{"type": "dict"}, {"type": "list", "items": {"type": "double"}}]},
        },
        "required": ["ratio"],
    }
    out = normalize_schema(schema)
    props = out["properties"]
    assert out["type"] == "object"
    assert props["ratio"] == {"type": "number"}
    assert props["point"] == {"type": "array", "items": {"type": "number"}}
    assert props["pair"] == {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}]}
    assert props["anything"] == {"description": "kept"}
    assert props["odd"] == {} and props["either"] == {}
    assert props["nested"]["properties"]["flag"] == {"type": "boolean"}
    assert props["nested"]["additionalProperties"] == {"type": "object"}
    assert props["choice"]["anyOf"] == [{"type": "object"}, {"type": "array", "items": {"type": "number"}}]
    Draft202012Validator.check_schema(out)
    assert schema["type"] == "dict"  # the input is not changed in place


def test_values_that_look_like_types_are_left_alone() -> None:
    schema = {"type": "object", "properties": {"kind": {"type": "string", "default": "dict", "enum": ["dict", "any"]}}}
    assert normalize_schema(schema) == schema


@pytest.mark.parametrize(
    ("schema", "path"),
    [
        ({"type": "object", "properties": []}, "parameters.properties: must be an object of schemas"),
        ({"type": "object", "properties": {"x": {"type": 3}}}, "parameters.properties.x.type: must be a type name"),
        ({"type": "object", "properties": {"x": "string"}}, "parameters.properties.x: must be a schema"),
        ({"type": "object", "required": "x"}, "parameters.required: 'x' is not of type 'array'"),
        (
            {"type": "object", "properties": {"x": {"type": "array", "minItems": -1}}},
            "parameters.properties.x.minItems",
        ),
        ({"type": "string"}, "parameters.type: tool parameters must be an object schema"),
    ],
)
def test_what_cannot_be_repaired_names_the_path(schema: dict[str, Any], path: str) -> None:
    with pytest.raises(SchemaError) as info:
        normalize_schema(schema, "parameters")
    assert str(info.value).startswith(path)


def test_every_bfcl_tool_normalises_to_a_valid_schema() -> None:
    functions = bfcl_functions()
    assert len(functions) > 700
    raw_types = set().union(*(types_in(f["parameters"]) for f in functions))
    assert {"dict", "float", "tuple", "any"} <= raw_types  # the quirks this is about are really there
    for f in functions:
        out = normalize_schema(f["parameters"], f["name"])
        Draft202012Validator.check_schema(out)
        assert types_in(out) <= {"object", "array", "string", "number", "integer", "boolean", "null"}, f["name"]


def _pool_file(tmp_path: Path, shape: str) -> Path:
    seen: set[str] = set()
    lines = []
    for f in bfcl_functions():
        if f["name"] in seen:
            continue
        seen.add(f["name"])
        if shape == "openai":
            lines.append({"type": "function", "function": f})
        elif shape == "parameters":
            lines.append(f)
        else:
            lines.append({"name": f["name"], "description": f["description"], "input_schema": f["parameters"]})
    path = tmp_path / "tools.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    return path


@pytest.mark.parametrize("shape", ["input_schema", "parameters", "openai"])
def test_bfcl_tools_load_as_a_pool(tmp_path: Path, shape: str) -> None:
    tools = load_tools(_pool_file(tmp_path, shape), "pools/tools.jsonl").items
    assert len(tools) > 500
    for t in tools:
        Draft202012Validator.check_schema(t.input_schema)
        assert not types_in(t.input_schema) & {"dict", "float", "tuple", "any"}


def test_a_bad_pool_schema_is_a_line_numbered_error(tmp_path: Path) -> None:
    good = {"name": "a", "description": "", "input_schema": {"type": "dict", "properties": {}}}
    bad = {"name": "c", "description": "", "parameters": {"type": "dict", "properties": {"x": {"type": {}}}}}
    path = tmp_path / "tools.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in (good, {**good, "name": "b"}, bad)), encoding="utf-8")
    with pytest.raises(SpecError, match=r"^pools/tools\.jsonl:3: parameters\.properties\.x\.type: must be a type name"):
        load_tools(path, "pools/tools.jsonl")


def test_import_normalises_with_the_same_rules() -> None:
    f = next(f for f in bfcl_functions() if "tuple" in types_in(f["parameters"]))
    converted = convert_tool({"type": "function", "function": f})
    assert converted["input_schema"] == normalize_schema(f["parameters"])
    assert "tuple" not in types_in(converted["input_schema"])


def test_import_of_an_unrepairable_tool_names_file_line_and_path(ws: Workspace, tmp_path: Path) -> None:
    line = {
        "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "required": 5}}}],
    }
    path = tmp_path / "chat.jsonl"
    path.write_text(json.dumps(line) + "\n", encoding="utf-8")
    with pytest.raises(ImportFailed, match=r"chat\.jsonl:1: tools\[0\]\.function\.parameters\.required: "):
        import_file(ws.db, path, actor="tester")


def test_a_schema_checked_once_is_remembered_but_an_invalid_one_is_refused_every_time() -> None:
    from curator.jsonschema_norm import check_schema

    valid = {"type": "object", "properties": {"q": {"type": "string", "minLength": 1}}}
    invalid = {"type": "object", "properties": {"q": {"type": "string", "minLength": -1}}}
    for _ in range(3):  # a corpus repeats its tool sets: the second check is a lookup
        check_schema(valid)
        with pytest.raises(SchemaError) as err:
            check_schema(invalid, "input_schema")
        assert "minLength" in err.value.path
