"""``python -m organism`` is the ``organism`` command."""

from organism.cli.main import main

main()
