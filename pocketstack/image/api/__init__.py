"""The image service's HTTP resources (thin: they parse, call the managers, render)."""
