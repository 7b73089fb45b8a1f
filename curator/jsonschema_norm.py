"""Tool parameter schemas from the wild, made into valid JSON Schema (draft 2020-12).

Function-calling data sets write Python-ish types (`"dict"`, `"float"`, `"tuple"`, `"any"`);
trainers' chat templates and validators expect JSON Schema. One normaliser serves import, the
pool loader and export, so a tool reads the same wherever it came from:

- `dict` -> `object`, `float`/`double` -> `number`, `tuple`/`list` -> `array`, `int` -> `integer`,
  `bool` -> `boolean`, `str` -> `string`;
- `any`, and any other name JSON Schema does not know, drops `type` (the value is unconstrained);
- the same inside `properties`, `items`, `prefixItems`, `additionalProperties`, `anyOf`/`oneOf`/
  `allOf`, `not`, `$defs`/`definitions` and `patternProperties`; an array of schemas under `items`
  (the pre-2020 tuple form) becomes `prefixItems`.

What cannot be repaired (a schema that is not an object, a `type` that is not a name, `required`
that is not a list of names...) is a `SchemaError` naming the path inside the schema, and the result
is always checked against the 2020-12 meta-schema.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

TYPE_ALIASES: dict[str, str] = {
    "dict": "object",
    "float": "number",
    "double": "number",
    "tuple": "array",
    "list": "array",
    "int": "integer",
    "bool": "boolean",
    "str": "string",
}
JSON_TYPES = frozenset({"object", "array", "string", "number", "integer", "boolean", "null"})

_ONE_SCHEMA = ("additionalProperties", "not", "items", "contains", "propertyNames", "unevaluatedProperties")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")


class SchemaError(ValueError):
    """A schema that cannot be made valid; `path` is where inside it (`properties.x.type`)."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}" if path else message)


def _at(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _type(value: Any, path: str) -> str | list[str] | None:
    """The JSON Schema type for a written one; None means 'leave type out'."""
    if isinstance(value, str):
        name = TYPE_ALIASES.get(value.strip().lower(), value.strip().lower())
        return name if name in JSON_TYPES else None
    if isinstance(value, list):
        names: list[str] = []
        for i, v in enumerate(value):
            if not isinstance(v, str):
                raise SchemaError(_at(path, i), f"a type must be a name, got {type(v).__name__}")
            one = TYPE_ALIASES.get(v.strip().lower(), v.strip().lower())
            if one not in JSON_TYPES:
                return None  # one unconstrained alternative makes the union unconstrained
            if one not in names:
                names.append(one)
        if not names:
            return None
        return names[0] if len(names) == 1 else names
    raise SchemaError(path, f"must be a type name or a list of names, got {type(value).__name__}")


def _schema(value: Any, path: str) -> dict[str, Any] | bool:
    if isinstance(value, bool):
        return value
    if not isinstance(value, dict):
        raise SchemaError(path, f"must be a schema (an object), got {type(value).__name__}")
    out: dict[str, Any] = {}
    for key, v in value.items():
        where = _at(path, key)
        if key == "type":
            t = _type(v, where)
            if t is not None:
                out["type"] = t
        elif key == "items" and isinstance(v, list):
            out["prefixItems"] = [_schema(s, _at(where, i)) for i, s in enumerate(v)]
        elif key in _ONE_SCHEMA:
            out[key] = _schema(v, where)
        elif key in _SCHEMA_LISTS:
            if not isinstance(v, list):
                raise SchemaError(where, f"must be a list of schemas, got {type(v).__name__}")
            out[key] = [_schema(s, _at(where, i)) for i, s in enumerate(v)]
        elif key in _SCHEMA_MAPS:
            if not isinstance(v, dict):
                raise SchemaError(where, f"must be an object of schemas, got {type(v).__name__}")
            out[key] = {name: _schema(s, _at(where, name)) for name, s in v.items()}
        elif key == "required" and isinstance(v, bool):
            continue  # the draft-3 per-property flag; the parent's `required` list is what counts
        else:
            out[key] = v
    return out


_VALID_SCHEMAS: set[str] = set()
"""Schemas already checked valid, as sorted JSON. A corpus repeats a few tool sets thousands of
times, and the meta-schema check (~1 ms) was a third of an import's parse time."""

_VALID_SCHEMAS_MAX = 4096


@lru_cache(maxsize=1)
def _validator_class() -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator


def check_schema(schema: Any, path: str = "") -> None:
    """Raise SchemaError (with the path of the first problem) unless `schema` is valid 2020-12."""
    key = json.dumps(schema, sort_keys=True, ensure_ascii=False)
    if key in _VALID_SCHEMAS:
        return
    validator = _validator_class()
    errors = list(validator(validator.META_SCHEMA).iter_errors(schema))
    if not errors:
        if len(_VALID_SCHEMAS) >= _VALID_SCHEMAS_MAX:
            _VALID_SCHEMAS.clear()
        _VALID_SCHEMAS.add(key)
        return
    from jsonschema.exceptions import best_match

    err = best_match(errors)
    where = path
    for part in err.absolute_path:
        where = _at(where, part if isinstance(part, int) else str(part))
    raise SchemaError(where, err.message)


def normalize_schema(schema: Any, path: str = "") -> dict[str, Any]:
    """A valid JSON Schema (2020-12) object for tool parameters, or SchemaError naming the path.

    `path` prefixes every error path (e.g. `input_schema`). The top level must describe an object:
    a missing type becomes `"object"`.
    """
    out = _schema(schema, path)
    if not isinstance(out, dict):
        raise SchemaError(path, "must be a schema object, not true/false")
    if "type" not in out:
        out = {"type": "object", **out}
    if out["type"] != "object":
        raise SchemaError(_at(path, "type"), f"tool parameters must be an object schema, got {out['type']!r}")
    check_schema(out, path)
    return out
