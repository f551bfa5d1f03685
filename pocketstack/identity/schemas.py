"""JSON schemas of identity request bodies."""

from pocketstack.api.validation import (BOOLEAN, DESCRIPTION, ID, NAME, OPTIONAL_ID, TAGS, obj,
                                        wrapped)

_domain = {"name": {**NAME, "maxLength": 64}, "description": DESCRIPTION, "enabled": BOOLEAN, "tags": TAGS}
domain_create = wrapped("domain", obj(_domain, ["name"]))
domain_update = wrapped("domain", obj(_domain))

_project = {"name": {**NAME, "maxLength": 64}, "description": DESCRIPTION, "enabled": BOOLEAN,
            "domain_id": OPTIONAL_ID, "parent_id": OPTIONAL_ID, "is_domain": BOOLEAN,
            "tags": TAGS}
project_create = wrapped("project", obj(_project, ["name"]))
project_update = wrapped("project", obj(_project))
project_tags = obj({"tags": TAGS}, ["tags"])

_user = {"name": NAME, "domain_id": OPTIONAL_ID, "enabled": BOOLEAN,
         "default_project_id": OPTIONAL_ID, "password": {"type": ["string", "null"]},
         "description": DESCRIPTION, "email": {"type": ["string", "null"]},
         "options": {"type": "object"}}
user_create = wrapped("user", obj(_user, ["name"]))
user_update = wrapped("user", obj(_user))
password_change = wrapped("user", obj({"password": {"type": "string"},
                                       "original_password": {"type": "string"}},
                                      ["password", "original_password"]))

_group = {"name": {**NAME, "maxLength": 64}, "domain_id": OPTIONAL_ID,
          "description": DESCRIPTION}
group_create = wrapped("group", obj(_group, ["name"]))
group_update = wrapped("group", obj(_group))

_role = {"name": NAME, "domain_id": OPTIONAL_ID, "description": DESCRIPTION,
         "options": {"type": "object", "properties": {"immutable": {"type": ["boolean",
                                                                              "null"]}},
                     "additionalProperties": False}}
role_create = wrapped("role", obj(_role, ["name"]))
role_update = wrapped("role", obj(_role))

_region = {"id": {"type": "string"}, "description": DESCRIPTION,
           "parent_region_id": {"type": ["string", "null"]}}
region_create = wrapped("region", obj(_region))
region_update = wrapped("region", obj(_region))

_service = {"type": {**NAME}, "name": {"type": "string"}, "description": DESCRIPTION,
            "enabled": BOOLEAN}
service_create = wrapped("service", obj(_service, ["type"]))
service_update = wrapped("service", obj(_service))

_endpoint = {"service_id": ID, "interface": {"type": "string",
                                             "enum": ["public", "internal", "admin"]},
             "url": {"type": "string", "minLength": 1, "maxLength": 225,
                     "pattern": "^[a-zA-Z0-9+.-]+:.+"},
             "region_id": {"type": ["string", "null"]}, "region": {"type": ["string", "null"]},
             "enabled": BOOLEAN}
endpoint_create = wrapped("endpoint", obj(_endpoint, ["service_id", "interface", "url"]))
endpoint_update = wrapped("endpoint", obj(_endpoint))

app_cred_create = wrapped("application_credential", obj({
    "name": NAME, "description": DESCRIPTION, "secret": {"type": ["string", "null"]},
    "expires_at": {"type": ["string", "null"]}, "unrestricted": {"type": ["boolean", "null"]},
    "roles": {"type": "array", "items": obj({"id": ID, "name": NAME})},
    "access_rules": {"type": "array"}}, ["name"]))

_credential = {"type": NAME, "blob": {"type": "string"}, "user_id": ID,
               "project_id": OPTIONAL_ID}
credential_create = wrapped("credential", obj(_credential, ["type", "blob", "user_id"]))
credential_update = wrapped("credential", obj(_credential))

ec2_create = obj({"tenant_id": ID}, ["tenant_id"])

auth = wrapped("auth", obj({"identity": obj({"methods": {"type": "array",
                                                         "items": {"type": "string"},
                                                         "minItems": 1}}, ["methods"]),
                            "scope": {"type": ["object", "string"]}}, ["identity"]))
