"""Placement's default policy rules: admin (or the service role) only, as real Placement."""

from pocketstack.policy import RuleDefault, register_defaults

ADMIN_OR_SERVICE = "rule:admin_required or rule:service_role"

_ACTIONS = (
    "resource_providers:list", "resource_providers:create", "resource_providers:show",
    "resource_providers:update", "resource_providers:delete",
    "resource_providers:inventories:list", "resource_providers:inventories:create",
    "resource_providers:inventories:show", "resource_providers:inventories:update",
    "resource_providers:inventories:delete",
    "resource_providers:aggregates:list", "resource_providers:aggregates:update",
    "resource_providers:usages", "usages",
    "resource_providers:traits:list", "resource_providers:traits:update",
    "resource_providers:traits:delete",
    "resource_providers:allocations:list",
    "resource_classes:list", "resource_classes:create", "resource_classes:show",
    "resource_classes:update", "resource_classes:delete",
    "traits:list", "traits:show", "traits:update", "traits:delete",
    "allocations:list", "allocations:manage", "allocations:update", "allocations:delete",
    "allocation_candidates:list", "reshaper:reshape",
)

register_defaults([RuleDefault(f"placement:{a}", ADMIN_OR_SERVICE) for a in _ACTIONS])
