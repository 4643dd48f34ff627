"""Route handlers of the production API, one module per route family (wire-api.md §6.2–§6.6)."""
