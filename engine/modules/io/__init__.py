"""io modules (modules.md §7)."""
