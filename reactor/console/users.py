"""`reactor console add-user NAME`: a CONSOLE_USERS entry from a password."""

from __future__ import annotations

import getpass
import sys

from reactor.console.auth import hash_password

MIN_PASSWORD_CHARS = 12


def add_user(name: str) -> int:
    """Read a password (prompt, or stdin when not a terminal); print `NAME:HASH`."""
    if not name or any(c in name for c in ":, ") or not name.isprintable():
        print("console add-user: NAME may not contain ':', ',' or spaces", file=sys.stderr)
        return 2
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            print("console add-user: the passwords differ", file=sys.stderr)
            return 2
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < MIN_PASSWORD_CHARS:
        print(
            f"console add-user: the password needs {MIN_PASSWORD_CHARS} characters or more",
            file=sys.stderr,
        )
        return 2
    print(f"{name}:{hash_password(password)}")
    return 0
