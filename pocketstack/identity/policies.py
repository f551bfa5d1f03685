"""Identity's default policy rules (Keystone's secure-RBAC defaults, simplified).

``admin`` is admin everywhere; readers on the system scope read everything;
users see and manage what is their own (their user, projects, application
credentials, credentials, tokens).
"""

from pocketstack.policy import RuleDefault, register_defaults

ADMIN = "rule:admin_required"
READER = "rule:admin_required or rule:system_reader"

_rules = [
    RuleDefault("identity:admin_or_system_reader", READER),
    RuleDefault("identity:get_domain",
                f"{READER} or domain_id:%(target.domain.id)s or "
                "project_domain_id:%(target.domain.id)s"),
    RuleDefault("identity:list_domains", READER),
    RuleDefault("identity:get_project", f"{READER} or project_id:%(target.project.id)s"),
    RuleDefault("identity:list_projects", READER),
    RuleDefault("identity:list_user_projects", f"{READER} or user_id:%(target.user.id)s"),
    RuleDefault("identity:get_project_tag", f"{READER} or project_id:%(target.project.id)s"),
    RuleDefault("identity:get_user", f"{READER} or user_id:%(target.user.id)s"),
    RuleDefault("identity:list_users", READER),
    RuleDefault("identity:get_group", READER),
    RuleDefault("identity:list_groups", READER),
    RuleDefault("identity:list_groups_for_user", f"{READER} or user_id:%(target.user.id)s"),
    RuleDefault("identity:list_users_in_group", READER),
    RuleDefault("identity:check_user_in_group", READER),
    RuleDefault("identity:get_role", READER),
    RuleDefault("identity:list_roles", READER),
    RuleDefault("identity:get_implied_role", READER),
    RuleDefault("identity:list_implied_roles", READER),
    RuleDefault("identity:list_role_inference_rules", READER),
    RuleDefault("identity:check_grant", READER),
    RuleDefault("identity:list_grants", READER),
    RuleDefault("identity:list_role_assignments", READER),
    RuleDefault("identity:get_region", ""),
    RuleDefault("identity:list_regions", ""),
    RuleDefault("identity:get_service", READER),
    RuleDefault("identity:list_services", READER),
    RuleDefault("identity:get_endpoint", READER),
    RuleDefault("identity:list_endpoints", READER),
    RuleDefault("identity:get_application_credential", f"{READER} or "
                "user_id:%(target.user.id)s"),
    RuleDefault("identity:list_application_credentials", f"{READER} or "
                "user_id:%(target.user.id)s"),
    RuleDefault("identity:create_application_credential", "user_id:%(target.user.id)s"),
    RuleDefault("identity:delete_application_credential", f"{ADMIN} or "
                "user_id:%(target.user.id)s"),
    RuleDefault("identity:get_credential", f"{READER} or "
                "user_id:%(target.credential.user_id)s"),
    RuleDefault("identity:list_credentials", f"{READER} or user_id:%(target.credential.user_id)s"),
    RuleDefault("identity:create_credential", f"{ADMIN} or "
                "user_id:%(target.credential.user_id)s"),
    RuleDefault("identity:update_credential", f"{ADMIN} or "
                "user_id:%(target.credential.user_id)s"),
    RuleDefault("identity:delete_credential", f"{ADMIN} or "
                "user_id:%(target.credential.user_id)s"),
    RuleDefault("identity:ec2_create_credential", f"{ADMIN} or "
                "user_id:%(target.credential.user_id)s"),
    RuleDefault("identity:ec2_list_credentials", f"{READER} or "
                "user_id:%(target.credential.user_id)s"),
    RuleDefault("identity:ec2_get_credential", f"{READER} or "
                "user_id:%(target.credential.user_id)s"),
    RuleDefault("identity:ec2_delete_credential", f"{ADMIN} or "
                "user_id:%(target.credential.user_id)s"),
    RuleDefault("identity:validate_token", f"{READER} or rule:service_role or "
                "user_id:%(target.token.user_id)s"),
    RuleDefault("identity:revoke_token", f"{ADMIN} or rule:service_role or "
                "user_id:%(target.token.user_id)s"),
    RuleDefault("identity:get_auth_catalog", ""),
    RuleDefault("identity:get_auth_projects", ""),
    RuleDefault("identity:get_auth_domains", ""),
    RuleDefault("identity:get_auth_system", ""),
]
# Every write not listed above is for admins.
for _action in ("create_domain", "update_domain", "delete_domain", "create_project",
                "update_project", "delete_project", "update_project_tags",
                "create_user", "update_user", "delete_user", "create_group", "update_group",
                "delete_group", "add_user_to_group", "remove_user_from_group", "create_role",
                "update_role", "delete_role", "create_implied_role", "delete_implied_role",
                "create_grant", "revoke_grant", "create_region", "update_region",
                "delete_region", "create_service", "update_service", "delete_service",
                "create_endpoint", "update_endpoint", "delete_endpoint"):
    _rules.append(RuleDefault(f"identity:{_action}", ADMIN))

register_defaults(_rules)
