"""`python -m client.cli` is `wfe`."""

from client.cli.app import main

main()
