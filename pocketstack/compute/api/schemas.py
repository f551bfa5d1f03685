"""Request bodies of the Compute API (JSON Schema, as Nova validates them)."""

from __future__ import annotations

from typing import Any

from pocketstack.api.validation import obj, wrapped

NAME = {"type": "string", "minLength": 1, "maxLength": 255,
        "pattern": r"^(?![\s])[\s\S]*(?<![\s])$"}
METADATA = {"type": "object", "patternProperties": {
    r"^[a-zA-Z0-9-_:. ]{1,255}$": {"type": "string", "maxLength": 255}},
    "additionalProperties": False}
UUID_OR_REF = {"type": ["string", "integer"], "minLength": 1, "maxLength": 255}
COUNT = {"type": ["integer", "string"], "pattern": r"^[0-9]*$", "minimum": 1}
NETWORKS: dict[str, Any] = {"oneOf": [
    {"type": "string", "enum": ["none", "auto"]},
    {"type": "array", "items": obj({
        "uuid": {"type": "string"}, "port": {"type": ["string", "null"]},
        "fixed_ip": {"type": "string"}, "tag": {"type": "string"}}, additional=False)}]}

server_create = wrapped("server", obj({
    "name": NAME, "imageRef": {"type": "string", "maxLength": 255},
    "flavorRef": UUID_OR_REF, "adminPass": {"type": "string"},
    "metadata": METADATA, "networks": NETWORKS,
    "key_name": {"type": "string", "minLength": 1, "maxLength": 255},
    "availability_zone": {"type": "string", "minLength": 1, "maxLength": 255},
    "min_count": COUNT, "max_count": COUNT, "return_reservation_id": {"type": "boolean"},
    "user_data": {"type": "string", "maxLength": 65535},
    "description": {"type": ["string", "null"], "maxLength": 255},
    "tags": {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 60,
                                        "pattern": "^[^,/]*$"}, "maxItems": 50},
    "config_drive": {"type": ["boolean", "string"]},
    "accessIPv4": {"type": "string", "format": "ipv4"},
    "accessIPv6": {"type": "string", "format": "ipv6"},
    "security_groups": {"type": "array", "items": obj({"name": {"type": "string"}})},
    "block_device_mapping_v2": {"type": "array"},
    "block_device_mapping": {"type": "array"},
    "OS-DCF:diskConfig": {"type": "string", "enum": ["AUTO", "MANUAL"]},
    "personality": {"type": "array"}, "hostname": {"type": "string"},
    "host": {"type": "string", "minLength": 1, "maxLength": 255},
    "hypervisor_hostname": {"type": "string", "minLength": 1, "maxLength": 255},
    "trusted_image_certificates": {"type": ["array", "null"], "items": {"type": "string"}},
}, ["name", "flavorRef"], additional=False))

# the items of ``personality`` (create and rebuild up to 2.56; contents checked as base64)
personality = {"type": "array", "items": obj({
    "path": {"type": "string", "minLength": 1}, "contents": {"type": "string"}},
    ["path", "contents"], additional=False)}

server_update = wrapped("server", obj({
    "name": NAME, "description": {"type": ["string", "null"], "maxLength": 255},
    "accessIPv4": {"type": "string"}, "accessIPv6": {"type": "string"},
    "OS-DCF:diskConfig": {"type": "string", "enum": ["AUTO", "MANUAL"]},
    "hostname": {"type": "string"}}, additional=False))

metadata = wrapped("metadata", METADATA)
meta_item = wrapped("meta", {**METADATA, "minProperties": 1, "maxProperties": 1})

# Nova's parameter_types.boolean: the JSON booleans and their usual spellings
BOOLEAN_LIKE = {"enum": [True, False] + [v for w in ("true", "false", "on", "off", "yes", "no")
                                         for v in (w, w.upper(), w.capitalize())] +
                ["1", "0", "t", "f", "y", "n"]}

flavor_create = wrapped("flavor", obj({
    "name": {"type": "string", "minLength": 1, "maxLength": 255},
    # a number is accepted as Nova does (and stored as its string)
    "id": {"type": ["string", "integer", "null"], "minLength": 1, "maxLength": 255,
           "minimum": 0, "maximum": 2147483647, "pattern": r"^(?! )[a-zA-Z0-9. _-]+(?<! )$"},
    "ram": {"type": ["integer", "string"], "pattern": "^[0-9]+$", "minimum": 1},
    "vcpus": {"type": ["integer", "string"], "pattern": "^[0-9]+$", "minimum": 1},
    "disk": {"type": ["integer", "string"], "pattern": "^[0-9]+$", "minimum": 0},
    "OS-FLV-EXT-DATA:ephemeral": {"type": ["integer", "string"], "pattern": "^[0-9]*$",
                                  "minimum": 0},
    "swap": {"type": ["integer", "string"], "pattern": "^[0-9]*$", "minimum": 0},
    "rxtx_factor": {"type": "number", "minimum": 0, "maximum": 3.40282e+38},
    "os-flavor-access:is_public": BOOLEAN_LIKE,
    "description": {"type": ["string", "null"], "maxLength": 65535},
}, ["name", "ram", "vcpus", "disk"], additional=False))

flavor_update = wrapped("flavor", obj({"description": {"type": ["string", "null"],
                                                       "maxLength": 65535}},
                                      ["description"], additional=False))

extra_specs = wrapped("extra_specs", {"type": "object", "patternProperties": {
    r"^[a-zA-Z0-9-_:. ]{1,255}$": {"type": ["string", "number", "boolean"]}},
    "additionalProperties": False})

keypair_create = wrapped("keypair", obj({
    "name": {"type": "string", "minLength": 1, "maxLength": 255,
             "pattern": r"^[a-zA-Z0-9 _.@-]+$"},
    "public_key": {"type": "string"}, "type": {"type": "string", "enum": ["ssh", "x509"]},
    "user_id": {"type": "string"}}, ["name"], additional=False))

server_group_create = wrapped("server_group", obj({
    "name": NAME,
    "policies": {"type": "array", "minItems": 1, "maxItems": 1, "items": {
        "type": "string", "enum": ["affinity", "anti-affinity", "soft-affinity",
                                   "soft-anti-affinity"]}},
    "policy": {"type": "string", "enum": ["affinity", "anti-affinity", "soft-affinity",
                                          "soft-anti-affinity"]},
    "rules": obj({"max_server_per_host": {"type": ["integer", "string"],
                                          "pattern": "^[0-9]+$", "minimum": 1}},
                 additional=False)}, ["name"], additional=False))

QUOTA_VALUE = {"type": ["integer", "string"], "pattern": r"^-?[0-9]{1,9}$", "minimum": -1,
               "maximum": 2147483647}
quota_update = wrapped("quota_set", obj({
    **{k: QUOTA_VALUE for k in ("instances", "cores", "ram", "metadata_items", "key_pairs",
                                "server_groups", "server_group_members", "injected_files",
                                "injected_file_content_bytes", "injected_file_path_bytes",
                                "floating_ips", "fixed_ips", "security_groups",
                                "security_group_rules", "networks")},
    "force": {"type": "boolean"}}, additional=False))

service_update = obj({"status": {"type": "string", "enum": ["enabled", "disabled"]},
                      "disabled_reason": {"type": "string", "minLength": 1,
                                          "maxLength": 255},
                      "forced_down": {"type": "boolean"}}, additional=False)
