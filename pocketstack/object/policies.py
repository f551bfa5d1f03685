"""Who operates an account: Swift's keystoneauth roles as policy rules.

``object_store:operator`` may do anything in the account ``AUTH_<project_id>`` of the
target; ``object_store:reader`` may read it. Others get in only through container ACLs
or temporary URLs.
"""

from pocketstack.policy import RuleDefault, register_defaults

register_defaults([
    RuleDefault("object_store:reseller_admin", "role:admin or role:ResellerAdmin"),
    RuleDefault("object_store:operator",
                "rule:object_store:reseller_admin or rule:project_member"),
    RuleDefault("object_store:reader",
                "rule:object_store:operator or rule:project_reader"),
])
