"""Client-side code: the `wfe` command line (client/cli); HTTP clients join it later."""
