"""db modules (modules.md §7)."""
