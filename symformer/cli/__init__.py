"""The command line: ``symformer`` and its subcommands. Only this layer prints and turns errors into
exit codes.
"""
