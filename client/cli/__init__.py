"""The `wfe` command line for workflow authors (console script in pyproject.toml)."""
