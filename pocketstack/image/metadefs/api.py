"""/v2/metadefs/*: namespaces, their objects, properties, tags and resource type
associations, and /v2/metadefs/resource_types; /v2/schemas/metadefs/*."""

from __future__ import annotations

from typing import Any

from pocketstack.api import errors
from pocketstack.api.request import Request
from pocketstack.api.routing import route
from pocketstack.api.validation import validate
from pocketstack.image.metadefs import schemas
from pocketstack.image.metadefs.manager import MetadefManager

NS = "/v2/metadefs/namespaces/{namespace}"
_CREATE = {"object": schemas.OBJECT, "property": schemas.PROPERTY_CREATE,
           "tag": schemas.TAG}


def _body(req: Request, schema: dict[str, Any]) -> dict[str, Any]:
    body = req.json()
    if not isinstance(body, dict):
        raise errors.BadRequest("The request body must be a JSON object.")
    read_only = ("created_at", "updated_at", "schema", "self")
    return validate(schema, {k: v for k, v in body.items() if k not in read_only})


class MetadefSchemas:
    @route("GET", "/v2/schemas/metadefs/{kind}")
    def show(self, req: Request, kind: str) -> dict[str, Any]:
        doc = schemas.document(kind)
        if doc is None:
            raise errors.NotFound("The resource could not be found.")
        return doc


class Namespaces:
    def __init__(self, manager: MetadefManager) -> None:
        self.m = manager

    @route("GET", "/v2/metadefs/namespaces", policy="image:get_metadef_namespaces")
    def list(self, req: Request) -> dict[str, Any]:
        return {"namespaces": self.m.list_namespaces(req.ctx, req.query),
                "first": "/v2/metadefs/namespaces",
                "schema": "/v2/schemas/metadefs/namespaces"}

    @route("POST", "/v2/metadefs/namespaces", status=201,
           policy="image:add_metadef_namespace")
    def create(self, req: Request) -> dict[str, Any]:
        return self.m.create_namespace(req.ctx, _body(req, schemas.NAMESPACE))

    @route("GET", NS, policy="image:get_metadef_namespace")
    def show(self, req: Request, namespace: str) -> dict[str, Any]:
        return self.m.show_namespace(req.ctx, namespace)

    @route("PUT", NS, policy="image:modify_metadef_namespace")
    def update(self, req: Request, namespace: str) -> dict[str, Any]:
        return self.m.update_namespace(req.ctx, namespace, _body(req, schemas.NAMESPACE))

    @route("DELETE", NS, status=204, policy="image:delete_metadef_namespace")
    def delete(self, req: Request, namespace: str) -> None:
        self.m.delete_namespace(req.ctx, namespace)


class Children:
    """Objects, properties and tags: the same five calls on each."""

    def __init__(self, manager: MetadefManager) -> None:
        self.m = manager

    # objects
    @route("GET", NS + "/objects", policy="image:get_metadef_objects")
    def list_objects(self, req: Request, namespace: str) -> dict[str, Any]:
        return {"objects": self.m.list_children(req.ctx, "object", namespace),
                "schema": "v2/schemas/metadefs/objects"}

    @route("POST", NS + "/objects", status=201, policy="image:add_metadef_object")
    def create_object(self, req: Request, namespace: str) -> dict[str, Any]:
        return self.m.create_child(req.ctx, "object", namespace, _body(req, schemas.OBJECT))

    @route("GET", NS + "/objects/{name}", policy="image:get_metadef_object")
    def show_object(self, req: Request, namespace: str, name: str) -> dict[str, Any]:
        return self.m.show_child(req.ctx, "object", namespace, name)

    @route("PUT", NS + "/objects/{name}", policy="image:modify_metadef_object")
    def update_object(self, req: Request, namespace: str, name: str) -> dict[str, Any]:
        return self.m.update_child(req.ctx, "object", namespace, name,
                                   _body(req, schemas.OBJECT))

    @route("DELETE", NS + "/objects/{name}", status=204, policy="image:delete_metadef_object")
    def delete_object(self, req: Request, namespace: str, name: str) -> None:
        self.m.delete_child(req.ctx, "object", namespace, name)

    @route("DELETE", NS + "/objects", status=204, policy="image:delete_metadef_object")
    def delete_objects(self, req: Request, namespace: str) -> None:
        self.m.delete_child(req.ctx, "object", namespace)

    # properties: listed as an object keyed by name
    @route("GET", NS + "/properties", policy="image:get_metadef_properties")
    def list_properties(self, req: Request, namespace: str) -> dict[str, Any]:
        views = self.m.list_children(req.ctx, "property", namespace)
        return {"properties": {v.pop("name"): v for v in views}}

    @route("POST", NS + "/properties", status=201, policy="image:add_metadef_property")
    def create_property(self, req: Request, namespace: str) -> dict[str, Any]:
        return self.m.create_child(req.ctx, "property", namespace,
                                   _body(req, schemas.PROPERTY_CREATE))

    @route("GET", NS + "/properties/{name}", policy="image:get_metadef_property")
    def show_property(self, req: Request, namespace: str, name: str) -> dict[str, Any]:
        return self.m.show_child(req.ctx, "property", namespace, name)

    @route("PUT", NS + "/properties/{name}", policy="image:modify_metadef_property")
    def update_property(self, req: Request, namespace: str, name: str) -> dict[str, Any]:
        return self.m.update_child(req.ctx, "property", namespace, name,
                                   _body(req, schemas.PROPERTY_CREATE))

    @route("DELETE", NS + "/properties/{name}", status=204,
           policy="image:remove_metadef_property")
    def delete_property(self, req: Request, namespace: str, name: str) -> None:
        self.m.delete_child(req.ctx, "property", namespace, name)

    @route("DELETE", NS + "/properties", status=204, policy="image:remove_metadef_property")
    def delete_properties(self, req: Request, namespace: str) -> None:
        self.m.delete_child(req.ctx, "property", namespace)

    # tags
    @route("GET", NS + "/tags", policy="image:get_metadef_tags")
    def list_tags(self, req: Request, namespace: str) -> dict[str, Any]:
        return {"tags": self.m.list_children(req.ctx, "tag", namespace)}

    @route("POST", NS + "/tags", status=201, policy="image:add_metadef_tags")
    def create_tags(self, req: Request, namespace: str) -> dict[str, Any]:
        body = _body(req, schemas.TAGS)
        append = req.headers.get("x-openstack-append", "").lower() == "true"
        return {"tags": self.m.create_tags(req.ctx, namespace, body["tags"], append)}

    @route("POST", NS + "/tags/{name}", status=201, policy="image:add_metadef_tag")
    def create_tag(self, req: Request, namespace: str, name: str) -> dict[str, Any]:
        return self.m.create_child(req.ctx, "tag", namespace, validate(schemas.TAG,
                                                                       {"name": name}))

    @route("GET", NS + "/tags/{name}", policy="image:get_metadef_tag")
    def show_tag(self, req: Request, namespace: str, name: str) -> dict[str, Any]:
        return self.m.show_child(req.ctx, "tag", namespace, name)

    @route("PUT", NS + "/tags/{name}", policy="image:modify_metadef_tag")
    def update_tag(self, req: Request, namespace: str, name: str) -> dict[str, Any]:
        return self.m.update_child(req.ctx, "tag", namespace, name, _body(req, schemas.TAG))

    @route("DELETE", NS + "/tags/{name}", status=204, policy="image:delete_metadef_tag")
    def delete_tag(self, req: Request, namespace: str, name: str) -> None:
        self.m.delete_child(req.ctx, "tag", namespace, name)

    @route("DELETE", NS + "/tags", status=204, policy="image:delete_metadef_tags")
    def delete_tags(self, req: Request, namespace: str) -> None:
        self.m.delete_child(req.ctx, "tag", namespace)


class ResourceTypes:
    def __init__(self, manager: MetadefManager) -> None:
        self.m = manager

    @route("GET", "/v2/metadefs/resource_types", policy="image:list_metadef_resource_types")
    def list(self, req: Request) -> dict[str, Any]:
        return {"resource_types": self.m.resource_types()}

    @route("GET", NS + "/resource_types", policy="image:get_metadef_resource_type")
    def associations(self, req: Request, namespace: str) -> dict[str, Any]:
        return {"resource_type_associations": self.m.associations(req.ctx, namespace)}

    @route("POST", NS + "/resource_types", status=201,
           policy="image:add_metadef_resource_type_association")
    def associate(self, req: Request, namespace: str) -> dict[str, Any]:
        return self.m.associate(req.ctx, namespace, _body(req, schemas.ASSOCIATION))

    @route("DELETE", NS + "/resource_types/{name}", status=204,
           policy="image:remove_metadef_resource_type_association")
    def dissociate(self, req: Request, namespace: str, name: str) -> None:
        self.m.dissociate(req.ctx, namespace, name)
