"""Selection addons (modules.md §6)."""
