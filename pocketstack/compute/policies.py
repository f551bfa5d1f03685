"""Compute's default policy rules (Nova's secure-RBAC defaults, simplified)."""

from pocketstack.policy import RuleDefault, register_defaults

ADMIN = "rule:admin_required"
MEMBER = "rule:project_member_or_admin"
READER = "rule:project_reader_or_admin"
ANY = "@"

_P = "os_compute_api:"
_rules = [(f"{_P}servers:{a}", MEMBER) for a in (
    "create", "delete", "update", "start", "stop", "reboot", "resize", "confirm_resize",
    "revert_resize")] + [
    (f"{_P}servers:{a}", READER) for a in ("index", "detail", "show")] + [
    (f"{_P}servers:index:get_all_tenants", ADMIN),
    (f"{_P}servers:detail:get_all_tenants", ADMIN),
    (f"{_P}servers:allow_all_filters", ADMIN),
    (f"{_P}servers:show:host_status", ADMIN),
    (f"{_P}servers:create:forced_host", ADMIN),
    (f"{_P}servers:create:requested_destination", ADMIN),
    (f"{_P}os-extended-server-attributes", ADMIN),
    (f"{_P}os-admin-actions:reset_state", ADMIN),
    (f"{_P}os-migrate-server:migrate", ADMIN),
    (f"{_P}os-migrate-server:migrate:host", ADMIN),
    (f"{_P}os-migrate-server:migrate_live", ADMIN),
    (f"{_P}os-evacuate", ADMIN),
    (f"{_P}os-migrations:index", ADMIN),
    (f"{_P}servers:migrations:index", ADMIN),
    (f"{_P}servers:migrations:show", ADMIN),
    (f"{_P}servers:migrations:force_complete", ADMIN),
    (f"{_P}servers:migrations:delete", ADMIN),
    (f"{_P}os-lock-server:lock", MEMBER),
    (f"{_P}os-lock-server:unlock", MEMBER),
    (f"{_P}os-lock-server:unlock:unlock_override", ADMIN),
    (f"{_P}os-pause-server:pause", MEMBER),
    (f"{_P}os-pause-server:unpause", MEMBER),
    (f"{_P}os-suspend-server:suspend", MEMBER),
    (f"{_P}os-suspend-server:resume", MEMBER),
    (f"{_P}os-instance-actions:list", READER),
    (f"{_P}os-instance-actions:show", READER),
    (f"{_P}os-instance-actions:events", ADMIN),
    (f"{_P}os-instance-actions:events:details", ADMIN),
    (f"{_P}server-metadata:index", READER),
    (f"{_P}server-metadata:show", READER),
    (f"{_P}server-metadata:create", MEMBER),
    (f"{_P}server-metadata:update", MEMBER),
    (f"{_P}server-metadata:update_all", MEMBER),
    (f"{_P}server-metadata:delete", MEMBER),
    (f"{_P}os-flavor-manage:create", ADMIN),
    (f"{_P}os-flavor-manage:update", ADMIN),
    (f"{_P}os-flavor-manage:delete", ADMIN),
    (f"{_P}os-flavor-extra-specs:index", READER),
    (f"{_P}os-flavor-extra-specs:show", READER),
    (f"{_P}os-flavor-extra-specs:create", ADMIN),
    (f"{_P}os-flavor-extra-specs:update", ADMIN),
    (f"{_P}os-flavor-extra-specs:delete", ADMIN),
    (f"{_P}os-flavor-access", ADMIN),
    (f"{_P}os-flavor-access:add_tenant_access", ADMIN),
    (f"{_P}os-flavor-access:remove_tenant_access", ADMIN),
    (f"{_P}os-keypairs:index", "rule:admin_required or user_id:%(user_id)s"),
    (f"{_P}os-keypairs:create", "rule:admin_required or user_id:%(user_id)s"),
    (f"{_P}os-keypairs:show", "rule:admin_required or user_id:%(user_id)s"),
    (f"{_P}os-keypairs:delete", "rule:admin_required or user_id:%(user_id)s"),
    (f"{_P}os-hypervisors:list", ADMIN),
    (f"{_P}os-hypervisors:list-detail", ADMIN),
    (f"{_P}os-hypervisors:show", ADMIN),
    (f"{_P}os-hypervisors:statistics", ADMIN),
    (f"{_P}os-hypervisors:uptime", ADMIN),
    (f"{_P}os-hypervisors:search", ADMIN),
    (f"{_P}os-hypervisors:servers", ADMIN),
    (f"{_P}os-services:list", ADMIN),
    (f"{_P}os-services:update", ADMIN),
    (f"{_P}os-services:delete", ADMIN),
    (f"{_P}os-availability-zone:list", ANY),
    (f"{_P}os-availability-zone:detail", ADMIN),
    (f"{_P}os-quota-sets:show", READER),
    (f"{_P}os-quota-sets:detail", READER),
    (f"{_P}os-quota-sets:defaults", ANY),
    (f"{_P}os-quota-sets:update", ADMIN),
    (f"{_P}os-quota-sets:delete", ADMIN),
    (f"{_P}limits", ANY),
    (f"{_P}limits:other_project", ADMIN),
    (f"{_P}os-server-groups:create", MEMBER),
    (f"{_P}os-server-groups:delete", MEMBER),
    (f"{_P}os-server-groups:index", READER),
    (f"{_P}os-server-groups:index:all_projects", ADMIN),
    (f"{_P}os-server-groups:show", READER),
    (f"{_P}os-simple-tenant-usage:list", ADMIN),
    (f"{_P}os-simple-tenant-usage:show", READER),
] + [(f"{_P}os-aggregates:{a}", ADMIN) for a in (
    "index", "create", "show", "update", "delete", "add_host", "remove_host",
    "set_metadata")] + [("compute:aggregates:images", ADMIN)] + [
    (f"{_P}os-server-tags:{a}", READER) for a in ("index", "show")] + [
    (f"{_P}os-server-tags:{a}", MEMBER) for a in ("update", "update_all", "delete",
                                                  "delete_all")]

register_defaults([RuleDefault(name, check) for name, check in _rules])
