"""Request body validation with JSON Schema (as Keystone, Nova and Cinder do)."""

from __future__ import annotations

from typing import Any

import jsonschema
from jsonschema.validators import Draft4Validator

from pocketstack.api import errors


# Schemas are module-level constants: compile each once, keyed by identity.
_VALIDATORS: dict[int, tuple[dict[str, Any], Draft4Validator]] = {}


def validate(schema: dict[str, Any], body: Any) -> Any:
    """Validate ``body``; raise BadRequest naming the first invalid field. Returns body."""
    entry = _VALIDATORS.get(id(schema))
    if entry is None or entry[0] is not schema:
        entry = _VALIDATORS[id(schema)] = (
            schema, Draft4Validator(schema, format_checker=jsonschema.FormatChecker()))
    validator = entry[1]
    error = jsonschema.exceptions.best_match(validator.iter_errors(body))
    if error is not None:
        path = ".".join(str(p) for p in error.absolute_path)
        if error.validator == "required":
            message = f"Invalid input for field '{path or 'body'}': {error.message}"
        elif error.validator == "additionalProperties":
            message = f"Invalid input for field '{path or 'body'}': {error.message}"
        else:
            message = f"Invalid input for field '{path}': {error.message}" if path else \
                f"Invalid input: {error.message}"
        raise errors.ValidationError(message)
    return body


# Building blocks shared by services' schemas
NAME = {"type": "string", "minLength": 1, "maxLength": 255}
ID = {"type": "string", "minLength": 1, "maxLength": 64}
OPTIONAL_ID = {"type": ["string", "null"], "maxLength": 64}
DESCRIPTION = {"type": ["string", "null"]}
BOOLEAN = {"type": "boolean"}
TAGS = {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 255,
                                   "pattern": "^[^,/]*$"}, "uniqueItems": True, "maxItems": 80}


def obj(properties: dict[str, Any], required: list[str] | None = None,
        additional: bool = True) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties,
                              "additionalProperties": additional}
    if required:
        schema["required"] = required
    return schema


def wrapped(key: str, inner: dict[str, Any]) -> dict[str, Any]:
    """``{"user": {...}}``-style bodies."""
    return obj({key: inner}, [key])
