"""Doctor checks over the services' data (importing this package registers them)."""

from pocketstack.ops.checks import compute, dataplane, migration_ssh, volume  # noqa: F401
