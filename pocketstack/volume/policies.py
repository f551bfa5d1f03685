"""Block Storage default policy rules (Cinder's secure-RBAC defaults, simplified).

Members manage their project's volumes, snapshots, backups and transfers; readers
read them; admins do everything, including the admin actions (reset status,
force delete), volume types, QoS specs, quotas of other projects and services.
"""

from pocketstack.policy import RuleDefault, register_defaults

ADMIN = "rule:admin_required"
MEMBER = "rule:project_member_or_admin"
READER = "rule:project_reader_or_admin"

_rules = [RuleDefault(f"volume:{name}", MEMBER) for name in (
    "create", "update", "delete", "extend", "attach", "detach", "reserve", "unreserve",
    "begin_detaching", "roll_detaching", "initialize_connection", "terminate_connection",
    "set_bootable", "update_readonly_flag", "retype", "revert", "create_snapshot",
    "update_snapshot", "delete_snapshot", "backup:create", "backup:update", "backup:delete",
    "backup:restore", "create_transfer", "accept_transfer", "delete_transfer",
    "attachment_create", "attachment_update", "attachment_delete", "attachment_complete",
    "update_volume_metadata", "update_snapshot_metadata", "image_metadata", "upload_image",
    "update_snapshot_status")]
_rules += [RuleDefault(f"volume:{name}", READER) for name in (
    "get", "get_all", "get_snapshot", "get_all_snapshots", "backup:get", "backup:get_all",
    "get_transfer", "get_all_transfers", "attachment_get", "get_volume_metadata",
    "type:get", "type:get_all", "quota:show", "limits", "availability_zone",
    "extensions")]
_rules += [RuleDefault(f"volume:{name}", ADMIN) for name in (
    "reset_status", "force_delete", "snapshot_reset_status", "snapshot_force_delete",
    "backup:reset_status", "backup:force_delete", "backup:export", "migrate",
    "type:manage", "type:access", "manage_existing", "list_manageable", "unmanage",
    "qos:manage", "qos:get", "quota:update", "quota:delete", "services",
    "services:update")]
_rules += [RuleDefault("message:get_all", READER), RuleDefault("message:get", READER),
           RuleDefault("message:delete", MEMBER)]
_rules += [RuleDefault(f"group:{name}", MEMBER) for name in (
    "create", "update", "delete", "create_group_snapshot", "delete_group_snapshot")]
_rules += [RuleDefault(f"group:{name}", READER) for name in (
    "get", "get_all", "get_group_snapshot", "get_all_group_snapshots",
    "group_types:get_all")]
_rules += [RuleDefault(f"group:{name}", ADMIN) for name in (
    "group_types_manage", "group_types_specs", "reset_status",
    "reset_group_snapshot_status")]
register_defaults(_rules)
