"""Subcommands of `exodus`, one module each.

A module here becomes a subcommand by defining

    def register(subparsers) -> None

which adds its parser (`subparsers.add_parser(NAME, help=...)`) and sets
`handler=` to a function taking the parsed arguments and returning an exit
code. `cli.main` finds the modules itself; nothing else needs editing
to add one. Modules whose name starts with `_` are helpers, not commands.
"""
