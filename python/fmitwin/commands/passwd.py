"""``fmitwin passwd users.txt NAME --role reader``: add a user to an OPC UA users file."""

from __future__ import annotations

import argparse

HELP = (
    "Add or replace a user of a twin's or plant's OPC UA server in a users file "
    "(name:role:argon2 hash); the password is read from the terminal or stdin, never an argument."
)


def configure(parser: argparse.ArgumentParser) -> None:
    from fmitwin.live.roles import ROLES

    parser.add_argument("file", help="the users file (created with mode 0600 if missing)")
    parser.add_argument("name", help="the user name")
    parser.add_argument("--role", choices=ROLES, default="reader", help="default: reader")


def run(args: argparse.Namespace) -> int:
    import getpass
    import sys

    from fmitwin.live.access import UserAccount, write_user

    if sys.stdin.isatty():
        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            print("error: the passwords differ", file=sys.stderr)
            return 2
    else:
        password = sys.stdin.readline().rstrip("\n")
    if not password:
        print("error: empty password", file=sys.stderr)
        return 2
    try:
        write_user(args.file, UserAccount.with_password(args.name, args.role, password))
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.name} ({args.role}) written to {args.file}")
    return 0
