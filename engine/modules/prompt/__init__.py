"""prompt modules (modules.md §7)."""
