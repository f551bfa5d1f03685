"""HTTP resources of the object-store API."""
