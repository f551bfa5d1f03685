"""Networking's default policy rules.

Reads are open to every authenticated user: what each one sees is decided by
ownership, sharing and RBAC in the domain layer, as Neutron does. Writes need
the member role (readers cannot write); owner checks and admin-only attributes
(``router:external``, ``shared``, ``binding:*``...) are enforced per object.
"""

from pocketstack.policy import RuleDefault, register_defaults

register_defaults([
    RuleDefault("network:write", "rule:project_member_or_admin or rule:admin_required"),
    RuleDefault("network:admin", "rule:admin_required"),
])
