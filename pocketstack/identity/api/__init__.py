"""Identity v3's HTTP layer: one module per group of resources, each thin over the managers."""
