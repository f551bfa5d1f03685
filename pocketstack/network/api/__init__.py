"""HTTP layer of the networking service."""
