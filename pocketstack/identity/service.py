"""Identity v3 (Keystone) on port 5000."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pocketstack.api.service import Service
from pocketstack.identity import policies  # noqa: F401  (registers the default rules)
from pocketstack.identity.api.auth import Auth
from pocketstack.identity.api.catalog import Endpoints, Regions, Services
from pocketstack.identity.api.credentials import (ApplicationCredentials, Credentials,
                                                   Ec2Credentials)
from pocketstack.identity.api.resource import Domains, Projects
from pocketstack.identity.api.roles import Grants, RoleAssignments, Roles
from pocketstack.identity.api.users import Groups, Users
from pocketstack.identity.api.versions import Versions

if TYPE_CHECKING:
    from pocketstack.cloud import Cloud


class IdentityService(Service):
    name = "identity"
    catalog_type = "identity"
    catalog_name = "keystone"
    description = "Identity Service (Keystone API v3)"
    port = 5000
    version_path = "/v3"
    request_id_headers = ("x-openstack-request-id",)

    def __init__(self, cloud: "Cloud") -> None:
        super().__init__(cloud)
        identity = cloud.identity
        for resource in (Versions(), Auth(identity), Domains(identity), Projects(identity),
                         Users(identity), Groups(identity), Roles(identity), Grants(identity),
                         RoleAssignments(identity), Regions(identity), Services(identity),
                         Endpoints(identity), ApplicationCredentials(identity),
                         Credentials(identity), Ec2Credentials(identity)):
            self.router.include(resource)
