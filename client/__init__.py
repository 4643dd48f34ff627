"""Client-side code: typed async HTTP clients of both servers (virtual.py, production.py),
answer helpers (answers.py), the pytest plugin (pytest_plugin.py), test support (testing/) and
the `wfe` command line (cli/, in-process runs on the engine)."""
