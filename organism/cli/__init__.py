"""The command line: ``organism`` and its subcommands (``main``), grouped by what an operator does with them.

Commands parse and print; what they act on lives in the runtime packages. :mod:`.context` holds what every
command shares (settings, the app, one-line errors for a service that is down).
"""
