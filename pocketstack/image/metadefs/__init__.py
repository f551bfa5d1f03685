"""Metadata definitions (Glance's metadefs): namespaces of objects, properties and tags
that describe the metadata other resources (images, flavors, volumes...) may carry, and
the resource types they apply to."""
