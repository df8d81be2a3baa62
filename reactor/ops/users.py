"""`reactor console add-user NAME`: a CONSOLE_USERS entry from a password."""

from __future__ import annotations

import getpass
import sys

from reactor.support.console_auth import hash_password

MIN_PASSWORD_CHARS = 12


def _refuse(reason: str) -> int:
    print(f"reactor: console add-user: {reason}", file=sys.stderr)
    return 2


def add_user(name: str) -> int:
    """Read a password (prompt, or stdin when not a terminal); print `NAME:HASH`."""
    if not name or any(c in name for c in ":, ") or not name.isprintable():
        return _refuse("NAME may not contain ':', ',' or spaces")
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            return _refuse("the passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        return _refuse("no password given (type one, or give it as one line on stdin)")
    if len(password) < MIN_PASSWORD_CHARS:
        return _refuse(f"the password needs {MIN_PASSWORD_CHARS} characters or more")
    print(f"{name}:{hash_password(password)}")
    return 0
