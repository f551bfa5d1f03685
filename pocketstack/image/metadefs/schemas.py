"""Request validation and the /v2/schemas/metadefs/* documents (Glance's names and shapes)."""

from __future__ import annotations

from typing import Any

NAME = {"type": "string", "minLength": 1, "maxLength": 80}
_TEXT = {"type": "string", "maxLength": 500}
_STAMP = {"type": "string", "format": "date-time", "readOnly": True}

PROPERTY = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 80},
        "title": {"type": "string"},
        "description": {"type": "string"},
        "operators": {"type": "array", "items": {"type": "string"}},
        "type": {"type": "string", "enum": ["array", "boolean", "integer", "number",
                                            "object", "string"]},
        "required": {"type": "array", "items": {"type": "string"}},
        "minimum": {"type": "number"}, "maximum": {"type": "number"},
        "maxLength": {"type": "integer", "minimum": 0},
        "minLength": {"type": "integer", "minimum": 0},
        "pattern": {"type": "string", "format": "regex"},
        "enum": {"type": "array"},
        "readonly": {"type": "boolean"},
        "default": {},
        "items": {"type": "object"},
        "maxItems": {"type": "integer", "minimum": 0},
        "minItems": {"type": "integer", "minimum": 0},
        "uniqueItems": {"type": "boolean", "default": False},
        "additionalItems": {"type": "boolean"},
    },
    "required": ["title", "type"],
}
PROPERTY_CREATE = {**PROPERTY, "required": ["name", "title", "type"]}
PROPERTIES = {"type": "object", "additionalProperties": PROPERTY}

TAG = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 255},
                                        "created_at": _STAMP, "updated_at": _STAMP},
       "required": ["name"]}
TAGS = {"type": "object", "properties": {"tags": {"type": "array", "items": TAG}},
        "required": ["tags"]}

OBJECT = {
    "type": "object",
    "properties": {
        "name": NAME, "description": {"type": "string"},
        "required": {"type": "array", "items": {"type": "string"}},
        "properties": PROPERTIES,
        "schema": {"type": "string", "readOnly": True},
        "self": {"type": "string", "readOnly": True},
        "created_at": _STAMP, "updated_at": _STAMP,
    },
    "required": ["name"],
}

ASSOCIATION = {
    "type": "object",
    "properties": {
        "name": NAME,
        "prefix": {"type": "string", "maxLength": 80},
        "properties_target": {"type": "string", "maxLength": 80},
        "created_at": _STAMP, "updated_at": _STAMP,
    },
    "required": ["name"],
}

NAMESPACE = {
    "type": "object",
    "properties": {
        "namespace": NAME,
        "display_name": {"type": "string", "maxLength": 80},
        "description": _TEXT,
        "visibility": {"type": "string", "enum": ["public", "private"]},
        "protected": {"type": "boolean"},
        "owner": {"type": "string", "maxLength": 255},
        "created_at": _STAMP, "updated_at": _STAMP,
        "schema": {"type": "string", "readOnly": True},
        "self": {"type": "string", "readOnly": True},
        "resource_type_associations": {"type": "array", "items": ASSOCIATION},
        "properties": PROPERTIES,
        "objects": {"type": "array", "items": OBJECT},
        "tags": {"type": "array", "items": TAG},
    },
    "required": ["namespace"],
}


def _doc(name: str, schema: dict[str, Any], links: list[dict[str, str]] | None = None
         ) -> dict[str, Any]:
    body = {"name": name, **schema, "additionalProperties": False}
    if links:
        body["links"] = links
    return body


def _collection(name: str, key: str, item: dict[str, Any], item_name: str) -> dict[str, Any]:
    return {"name": name, "links": [{"rel": "first", "href": "{first}"},
                                    {"rel": "next", "href": "{next}"},
                                    {"rel": "describedby", "href": "{schema}"}],
            "properties": {key: {"type": "array", "items": _doc(item_name, item)},
                           "first": {"type": "string"}, "next": {"type": "string"},
                           "schema": {"type": "string"}}}


def document(kind: str) -> dict[str, Any] | None:
    """The /v2/schemas/metadefs/{kind} document; None for an unknown kind."""
    rt = {"name": "resource_type", "properties": {"name": NAME, "created_at": _STAMP,
                                                  "updated_at": _STAMP}}
    docs = {
        "namespace": lambda: _doc("namespace", NAMESPACE, [
            {"rel": "self", "href": "{self}"}, {"rel": "describedby", "href": "{schema}"}]),
        "namespaces": lambda: _collection("namespaces", "namespaces", NAMESPACE, "namespace"),
        "object": lambda: _doc("object", OBJECT, [
            {"rel": "self", "href": "{self}"}, {"rel": "describedby", "href": "{schema}"}]),
        "objects": lambda: _collection("objects", "objects", OBJECT, "object"),
        "property": lambda: _doc("property", PROPERTY_CREATE),
        "properties": lambda: {"name": "properties", "links": [
            {"rel": "first", "href": "{first}"}, {"rel": "next", "href": "{next}"},
            {"rel": "describedby", "href": "{schema}"}],
            "properties": {"properties": {"type": "object",
                                          "additionalProperties": _doc("property",
                                                                       PROPERTY)},
                           "first": {"type": "string"}, "next": {"type": "string"},
                           "schema": {"type": "string"}}},
        "tag": lambda: _doc("tag", TAG),
        "tags": lambda: _collection("tags", "tags", TAG, "tag"),
        "resource_type": lambda: _doc("resource_type_association", ASSOCIATION),
        "resource_types": lambda: _collection("resource_type_associations",
                                              "resource_type_associations", ASSOCIATION,
                                              "resource_type_association"),
        "resource_type_types": lambda: rt,
    }
    make = docs.get(kind)
    return make() if make else None
