"""Glance's JSON schemas: served at /v2/schemas/* and used to validate bodies.

Field names, types and enums follow Glance's image and member schemas, which
clients read (glanceclient builds its models from them).
"""

from __future__ import annotations

import copy
from typing import Any

UUID_PATTERN = ("^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}"
                "-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$")
DISK_FORMATS = ["ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso",
                "ploop"]
CONTAINER_FORMATS = ["ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"]
STATUSES = ["queued", "saving", "active", "killed", "deleted", "uploading", "importing",
            "pending_delete", "deactivated"]
VISIBILITIES = ["community", "public", "private", "shared"]


def _s(kind: Any, text: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "description": text, **extra}


IMAGE_PROPERTIES: dict[str, Any] = {
    "id": _s("string", "An identifier for the image", pattern=UUID_PATTERN),
    "name": _s(["null", "string"], "Descriptive name for the image", maxLength=255),
    "status": _s("string", "Status of the image", readOnly=True, enum=STATUSES),
    "visibility": _s("string", "Scope of image accessibility", enum=VISIBILITIES),
    "protected": _s("boolean", "If true, image will not be deletable."),
    "os_hidden": _s("boolean", "If true, image will not appear in default image list "
                    "response."),
    "checksum": _s(["null", "string"], "md5 hash of image contents.", readOnly=True,
                   maxLength=32),
    "os_hash_algo": _s(["null", "string"], "Algorithm to calculate the os_hash_value",
                       readOnly=True, maxLength=64),
    "os_hash_value": _s(["null", "string"], "Hexdigest of the image contents using the "
                        "algorithm specified by the os_hash_algo", readOnly=True,
                        maxLength=128),
    "owner": _s(["null", "string"], "Owner of the image", maxLength=255),
    "size": _s(["null", "integer"], "Size of image file in bytes", readOnly=True),
    "virtual_size": _s(["null", "integer"], "Virtual size of image in bytes", readOnly=True),
    "container_format": _s(["null", "string"], "Format of the container",
                           enum=[None, *CONTAINER_FORMATS]),
    "disk_format": _s(["null", "string"], "Format of the disk", enum=[None, *DISK_FORMATS]),
    "created_at": _s("string", "Date and time of image registration", readOnly=True),
    "updated_at": _s("string", "Date and time of the last image modification",
                     readOnly=True),
    "tags": _s("array", "List of strings related to the image",
               items={"type": "string", "maxLength": 255}),
    "direct_url": _s("string", "URL to access the image file kept in external store",
                     readOnly=True),
    "min_ram": _s("integer", "Amount of ram (in MB) required to boot image."),
    "min_disk": _s("integer", "Amount of disk space (in GB) required to boot image."),
    "self": _s("string", "An image self url", readOnly=True),
    "file": _s("string", "An image file url", readOnly=True),
    "stores": _s("string", "Store in which image data resides.  Only present when the "
                 "operator has enabled multiple stores.  May be a comma-separated list of "
                 "store identifiers.", readOnly=True),
    "schema": _s("string", "An image schema url", readOnly=True),
    "locations": _s("array", "A set of URLs to access the image file kept in external store",
                    items={"type": "object", "properties": {
                        "url": {"type": "string", "maxLength": 255},
                        "metadata": {"type": "object"}},
                        "required": ["url", "metadata"]}),
    # Glance's default schema-image.json: common custom properties (is_base false).
    "kernel_id": _s(["null", "string"], "ID of image stored in Glance that should be used as "
                    "the kernel when booting an AMI-style image.", pattern=UUID_PATTERN,
                    is_base=False),
    "ramdisk_id": _s(["null", "string"], "ID of image stored in Glance that should be used "
                     "as the ramdisk when booting an AMI-style image.", pattern=UUID_PATTERN,
                     is_base=False),
    "instance_uuid": _s("string", "Metadata which can be used to record which instance this "
                        "image is associated with. (Informational only, does not create an "
                        "instance snapshot.)", is_base=False),
    "architecture": _s("string", "Operating system architecture as specified in "
                       "https://docs.openstack.org/python-glanceclient/latest/cli/"
                       "property-keys.html", is_base=False),
    "os_distro": _s("string", "Common name of operating system distribution as specified "
                    "in https://docs.openstack.org/python-glanceclient/latest/cli/"
                    "property-keys.html", is_base=False),
    "os_version": _s("string", "Operating system version as specified by the distributor.",
                     is_base=False),
    "description": _s("string", "A human-readable string describing this image.",
                      is_base=False),
}

LINKS = [{"rel": "self", "href": "{self}"}, {"rel": "enclosure", "href": "{file}"},
         {"rel": "describedby", "href": "{schema}"}]


def image_schema() -> dict[str, Any]:
    return {"name": "image", "properties": copy.deepcopy(IMAGE_PROPERTIES),
            "additionalProperties": {"type": "string"}, "links": copy.deepcopy(LINKS)}


def _collection(name: str, item: dict[str, Any]) -> dict[str, Any]:
    return {"name": name,
            "properties": {name: {"type": "array", "items": item},
                           "first": {"type": "string"}, "next": {"type": "string"},
                           "schema": {"type": "string"}},
            "links": [{"rel": "first", "href": "{first}"}, {"rel": "next", "href": "{next}"},
                      {"rel": "describedby", "href": "{schema}"}]}


def images_schema() -> dict[str, Any]:
    return _collection("images", image_schema())


MEMBER_PROPERTIES: dict[str, Any] = {
    "member_id": {"type": "string",
                  "description": "An identifier for the image member (tenantId)"},
    "image_id": {"type": "string", "description": "An identifier for the image",
                 "pattern": UUID_PATTERN},
    "created_at": {"type": "string", "description": "Date and time of image member creation"},
    "updated_at": {"type": "string",
                   "description": "Date and time of last modification of image member"},
    "status": {"type": "string", "description": "The status of this image member",
               "enum": ["pending", "accepted", "rejected"]},
    "schema": {"readOnly": True, "type": "string"},
}


def member_schema() -> dict[str, Any]:
    return {"name": "member", "properties": copy.deepcopy(MEMBER_PROPERTIES),
            "additionalProperties": False}


def members_schema() -> dict[str, Any]:
    return _collection("members", member_schema())


# Validation of request bodies: the image schema with a string for every unknown key.
IMAGE_VALIDATION = {"type": "object", **image_schema()}
MEMBER_CREATE = {"type": "object", "properties": {"member": {"type": "string", "minLength": 1,
                                                             "maxLength": 255}},
                 "required": ["member"]}
MEMBER_UPDATE = {"type": "object", "properties": {
    "status": {"type": "string", "enum": ["pending", "accepted", "rejected"]}},
    "required": ["status"]}
