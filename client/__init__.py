"""Client-side code: typed async HTTP clients of both servers (virtual.py, production.py),
answer helpers (answers.py), the pytest plugin (pytest_plugin.py) and test support (testing/)."""
