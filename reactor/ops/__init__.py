"""What an operator runs: the `reactor` command line and its commands.

Status, retry, prune, sweep, rules explain, console users, and the database a command
uses (the embedded server when there is no DATABASE_URL).
"""
