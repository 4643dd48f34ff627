"""The virtual server: a stateless live preview of workflows for the editor (port 9001)."""
