"""transform modules (modules.md §7)."""
