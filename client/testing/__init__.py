"""Test support shipped with the client: in-process servers and a wire-protocol MongoDB.

Unlike the rest of `client`, these modules import the server packages (they build the apps the
pytest plugin serves in-process); nothing else in `client` imports them.
"""
