"""Image's default policy rules, under Glance's names (secure-RBAC defaults).

The target of image rules carries the image's owner as ``project_id`` (and
``owner``), its ``visibility`` and, when the caller's project is a member of the
image, ``member_id``. Visibility beyond that (who may see a shared or private
image at all) is decided by the image manager, as Glance's database layer does.
"""

from pocketstack.policy import RuleDefault, register_defaults

ADMIN = "role:admin"
PROJECT_MEMBER = "role:member and project_id:%(project_id)s"
PROJECT_READER = "role:reader and project_id:%(project_id)s"
IMAGE_MEMBER = "project_id:%(member_id)s"
VISIBLE = ("project_id:%(project_id)s or " + IMAGE_MEMBER + " or "
           "'community':%(visibility)s or 'public':%(visibility)s or 'shared':%(visibility)s")
ADMIN_OR_MEMBER = f"{ADMIN} or ({PROJECT_MEMBER})"
ADMIN_OR_READER = f"{ADMIN} or ({PROJECT_READER})"

register_defaults([
    RuleDefault("image:context_is_admin", ADMIN),
    RuleDefault("image:add_image", f"{ADMIN} or ({PROJECT_MEMBER} and project_id:%(owner)s)"),
    RuleDefault("image:delete_image", ADMIN_OR_MEMBER),
    RuleDefault("image:get_image", f"{ADMIN} or (role:reader and ({VISIBLE}))"),
    RuleDefault("image:get_images", ADMIN_OR_READER),
    RuleDefault("image:modify_image", ADMIN_OR_MEMBER),
    RuleDefault("image:publicize_image", ADMIN),
    RuleDefault("image:communitize_image", ADMIN_OR_MEMBER),
    RuleDefault("image:download_image", f"{ADMIN} or (role:member and ({VISIBLE}))"),
    RuleDefault("image:upload_image", ADMIN_OR_MEMBER),
    RuleDefault("image:get_image_location", ADMIN_OR_READER),
    RuleDefault("image:set_image_location", ADMIN_OR_MEMBER),
    RuleDefault("image:delete_image_location", ADMIN),
    RuleDefault("image:add_member", ADMIN_OR_MEMBER),
    RuleDefault("image:delete_member", ADMIN_OR_MEMBER),
    RuleDefault("image:get_member",
                f"{ADMIN} or (role:reader and (project_id:%(project_id)s or {IMAGE_MEMBER}))"),
    RuleDefault("image:get_members",
                f"{ADMIN} or (role:reader and (project_id:%(project_id)s or {IMAGE_MEMBER}))"),
    RuleDefault("image:modify_member", f"{ADMIN} or (role:member and {IMAGE_MEMBER})"),
    RuleDefault("image:deactivate", ADMIN_OR_MEMBER),
    RuleDefault("image:reactivate", ADMIN_OR_MEMBER),
    RuleDefault("image:copy_image", ADMIN),
    RuleDefault("image:get_stores", ""),
    RuleDefault("image:get_stores_detail", ADMIN),
    RuleDefault("image:get_usage", "role:reader"),
    RuleDefault("image:import_image", ADMIN_OR_MEMBER),
    RuleDefault("image:tasks_api_access", ADMIN),
    RuleDefault("image:get_task", ""),
    RuleDefault("image:get_tasks", ""),
    RuleDefault("image:add_task", ""),
    RuleDefault("image:modify_task", ""),
])
