"""The production server (port 9000): authenticated HTTP API over MongoDB (wire-api.md §6)."""
