"""Doctor checks over the services' data (importing this package registers them)."""

from pocketstack.ops.checks import (compute, dataplane, image, placement,  # noqa: F401
                                    volume)
