"""Metadata definitions (/v2/metadefs) with openstacksdk, the openstack CLI and raw HTTP."""

from __future__ import annotations

import uuid

import pytest
import requests


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def raw(cloud):
    def call(method: str, path: str, user: str = "pocketstack-admin", **kw):
        return requests.request(method, cloud.url(9292, path), timeout=60,
                                headers={"X-Auth-Token": cloud.token(user)}, **kw)
    return call


def test_namespace_lifecycle_sdk(cloud):
    conn = cloud.conn("pocketstack-admin")
    types = [t.name for t in conn.image.metadef_resource_types()]
    assert "OS::Glance::Image" in types and "OS::Nova::Flavor" in types
    name = _name("ns")
    ns = conn.image.create_metadef_namespace(
        namespace=name, display_name="Test", description="d", visibility="public",
        protected=True, resource_type_associations=[{"name": "OS::Glance::Image",
                                                     "prefix": "hw_"}])
    assert ns.namespace == name and ns.is_protected is True and ns.visibility == "public"
    assert name in [n.namespace for n in conn.image.metadef_namespaces()]
    got = conn.image.get_metadef_namespace(name)
    assert got.resource_type_associations[0]["prefix"] == "hw_"
    with pytest.raises(Exception) as exc:  # protected
        conn.image.delete_metadef_namespace(name)
    assert getattr(exc.value, "status_code", None) == 403
    conn.image.update_metadef_namespace(name, protected=False, visibility="private",
                                        namespace=name)
    assert conn.image.get_metadef_namespace(name).visibility == "private"

    obj = conn.image.create_metadef_object(name, name="cpu", description="CPU",
                                           properties={"cores": {"type": "integer",
                                                                 "title": "Cores"}})
    assert obj.name == "cpu"
    conn.image.update_metadef_object("cpu", name, name="cpu2")
    assert [o.name for o in conn.image.metadef_objects(name)] == ["cpu2"]
    prop = conn.image.create_metadef_property(name, name="hw_rng", title="RNG",
                                              type="string", enum=["a", "b"])
    assert prop.title == "RNG"
    assert conn.image.get_metadef_property("hw_rng", name).enum == ["a", "b"]
    assert [p.name for p in conn.image.metadef_properties(name)] == ["hw_rng"]
    conn.image.delete_metadef_property("hw_rng", name)
    assert list(conn.image.metadef_properties(name)) == []
    assoc = conn.image.create_metadef_resource_type_association(name, name="OS::Nova::Flavor")
    assert assoc.name == "OS::Nova::Flavor"
    conn.image.delete_metadef_resource_type_association("OS::Nova::Flavor", name)
    assert [a.name for a in conn.image.metadef_resource_type_associations(name)] == [
        "OS::Glance::Image"]
    conn.image.delete_metadef_namespace(name)
    assert name not in [n.namespace for n in conn.image.metadef_namespaces()]


def test_tags_and_status_codes(raw):
    name = _name("tags")
    assert raw("POST", "/v2/metadefs/namespaces", json={"namespace": name}).status_code == 201
    base = f"/v2/metadefs/namespaces/{name}"
    r = raw("POST", base + "/tags", json={"tags": [{"name": "a"}, {"name": "b"}]})
    assert r.status_code == 201 and [t["name"] for t in r.json()["tags"]] == ["a", "b"]
    assert raw("POST", base + "/tags/c").status_code == 201
    assert raw("POST", base + "/tags/c").status_code == 409
    r = raw("PUT", base + "/tags/c", json={"name": "d"})
    assert r.status_code == 200 and r.json()["name"] == "d"
    assert sorted(t["name"] for t in raw("GET", base + "/tags").json()["tags"]) == \
        ["a", "b", "d"]
    assert raw("GET", base + "/tags/zz").status_code == 404
    assert raw("DELETE", base + "/tags").status_code == 204
    assert raw("GET", base + "/tags").json()["tags"] == []
    # duplicates, bad bodies, missing namespaces, non-admin writes
    assert raw("POST", "/v2/metadefs/namespaces", json={"namespace": name}).status_code == 409
    assert raw("POST", "/v2/metadefs/namespaces", json={"visibility": "x"}).status_code == 400
    assert raw("POST", base + "/properties", json={"name": "p"}).status_code == 400
    assert raw("GET", "/v2/metadefs/namespaces/nope-" + name).status_code == 404
    assert raw("POST", "/v2/metadefs/namespaces", user="pocketstack",
               json={"namespace": name + "x"}).status_code == 403
    # private namespaces are invisible to other projects: 404, not in the list
    assert raw("GET", base, user="pocketstack").status_code == 404
    listed = raw("GET", "/v2/metadefs/namespaces", user="pocketstack").json()["namespaces"]
    assert name not in [n["namespace"] for n in listed]
    assert raw("DELETE", base).status_code == 204
    assert raw("GET", base).status_code == 404


@pytest.mark.parametrize("kind,title", [
    ("namespace", "namespace"), ("namespaces", "namespaces"),
    ("resource_type", "resource_type_association"),
    ("resource_types", "resource_type_associations"), ("object", "object"),
    ("objects", "objects"), ("property", "property"), ("properties", "properties"),
    ("tag", "tag"), ("tags", "tags")])
def test_schemas(raw, kind, title):
    r = raw("GET", f"/v2/schemas/metadefs/{kind}", user="pocketstack")
    assert r.status_code == 200 and r.json()["name"] == title


def test_cli(cloud):
    """Four CLI calls (each costs an `openstack` start-up); the SDK test covers the rest."""
    name = _name("cli")
    created = cloud.cli("image", "metadef", "namespace", "create", name, "--public",
                        "--description", "from the CLI", "-f", "json")
    assert created["namespace"] == name and created["visibility"] == "public"
    obj = cloud.cli("image", "metadef", "object", "create", "--namespace", name, "obj1",
                    "-f", "json")
    assert obj["name"] == "obj1"
    prop = cloud.cli("image", "metadef", "property", "create", "--name", "prop1", "--type",
                     "string", "--title", "P", "--schema", "{}", name, "-f", "json")
    assert prop["name"] == "prop1" and prop["title"] == "P"
    cloud.cli("image", "metadef", "namespace", "delete", name)
