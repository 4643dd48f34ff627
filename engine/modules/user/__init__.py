"""user modules (modules.md §7)."""
