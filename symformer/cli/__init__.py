"""The command line: ``symformer`` and its subcommands. Only this layer prints and turns errors into
exit codes.
"""

from symformer.cli.main import main

__all__ = ["main"]
