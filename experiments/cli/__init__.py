"""The command line, `exodus`: `main` (the entry point, errors and signals), `options` (the options the
subcommands share) and `commands/` (one module a subcommand). It imports from every other folder; nothing
imports from it.
"""
