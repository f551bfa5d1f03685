"""Doctor checks over the services' data (importing this package registers them)."""

from pocketstack.ops.checks import (compute, dataplane, image, migration_ssh,  # noqa: F401
                                    placement, volume)
