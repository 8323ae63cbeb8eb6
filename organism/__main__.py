"""``python -m organism`` is the ``organism`` command."""

from organism.cli import main

main()
