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
    # Glance 2.17's location API: the image's owner (Tempest adds as the project member)
    # and the services that hold the data (Nova, Cinder with the service role)
    RuleDefault("image:add_image_location", f"{ADMIN_OR_MEMBER} or role:service"),
    RuleDefault("image:fetch_image_location", f"{ADMIN} or role:service"),
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

# Metadata definitions: reading is everyone's (visibility is the manager's), writing the
# admin's (Glance's metadef_default / metadef_admin).
_READ = ("get_metadef_namespace", "get_metadef_namespaces", "get_metadef_object",
         "get_metadef_objects", "get_metadef_property", "get_metadef_properties",
         "get_metadef_tag", "get_metadef_tags", "list_metadef_resource_types",
         "get_metadef_resource_type")
_WRITE = ("add_metadef_namespace", "modify_metadef_namespace", "delete_metadef_namespace",
          "add_metadef_object", "modify_metadef_object", "delete_metadef_object",
          "add_metadef_property", "modify_metadef_property", "remove_metadef_property",
          "add_metadef_tag", "add_metadef_tags", "modify_metadef_tag", "delete_metadef_tag",
          "delete_metadef_tags", "add_metadef_resource_type_association",
          "remove_metadef_resource_type_association")
register_defaults([RuleDefault("image:metadef_default", ""),
                   RuleDefault("image:metadef_admin", ADMIN)]
                  + [RuleDefault(f"image:{n}", "rule:image:metadef_default") for n in _READ]
                  + [RuleDefault(f"image:{n}", "rule:image:metadef_admin") for n in _WRITE])
