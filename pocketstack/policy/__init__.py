"""One policy engine for every service: oslo.policy's rule language and defaults."""

from pocketstack.policy.enforcer import Enforcer, register_defaults, RuleDefault

__all__ = ["Enforcer", "register_defaults", "RuleDefault"]
