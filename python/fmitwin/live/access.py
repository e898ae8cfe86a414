"""Who may do what on fmitwin's OPC UA servers (the twin's and the plant simulator's): named users
with roles and argon2 password hashes, anonymous access, and the asyncua user manager and
permission ruleset that enforce them.

No client is ever asyncua's ``Admin`` (asyncua's default user manager makes anyone who calls
itself ``admin`` one, with any password): the address space (adding and deleting nodes and
references) and the values the server publishes are changed only by the process that serves
them. What a session may do follows its role:

============  ==========================================================================
``reader``    browse, read, subscribe, history read
``operator``  a reader that may also write the nodes the server marks writable (the plant's
              ``cmd.*`` setpoints) and call methods
============  ==========================================================================

Anonymous sessions are ``off`` (refused), ``read`` (a reader) or ``operate`` (an operator; the
plant simulator's default when it has no users, so that a loopback demo can send commands).

Passwords are kept only as argon2id hashes (PHC strings, ``$argon2id$...``). A users file holds
one account a line, ``name:role:hash`` (``#`` starts a comment); ``fmitwin passwd`` writes one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from asyncua import ua
from asyncua.crypto.permission_rules import USER_TYPES, PermissionRuleset, User, UserRole
from asyncua.server.user_managers import UserManager

from fmitwin.live.roles import ANONYMOUS, ROLES

_hasher = PasswordHasher()

_OPERATOR_ONLY = {
    ua.NodeId(ua.ObjectIds.WriteRequest_Encoding_DefaultBinary),
    ua.NodeId(ua.ObjectIds.CallRequest_Encoding_DefaultBinary),
}
_OPERATE = {ua.NodeId(t) for t in USER_TYPES}
_READ = _OPERATE - _OPERATOR_ONLY


def hash_password(password: str) -> str:
    """The argon2id hash (PHC string) of ``password``."""
    return _hasher.hash(password)


@dataclass(frozen=True)
class UserAccount:
    """One named user of an OPC UA server: ``role`` in :data:`ROLES`, the password's argon2
    hash."""

    name: str
    role: str
    password_hash: str

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"user {self.name!r}: role {self.role!r} is not one of {ROLES}")
        if not self.password_hash.startswith("$argon2"):
            raise ValueError(f"user {self.name!r}: expected an argon2 hash ($argon2id$...)")

    @classmethod
    def with_password(cls, name: str, role: str, password: str) -> UserAccount:
        return cls(name, role, hash_password(password))

    def verify(self, password: str | None) -> bool:
        if password is None:
            return False
        try:
            return _hasher.verify(self.password_hash, password)
        except (VerificationError, InvalidHashError):
            return False


@dataclass(frozen=True)
class AccessPolicy:
    """The users of one server and what an anonymous session may do."""

    users: Mapping[str, UserAccount] = field(default_factory=dict)
    anonymous: str = "read"

    def __post_init__(self) -> None:
        if self.anonymous not in ANONYMOUS:
            raise ValueError(f"anonymous access {self.anonymous!r} is not one of {ANONYMOUS}")

    def role_of(self, user: User | None) -> str | None:
        """The role of a session's user; None = may do nothing."""
        if user is None:
            return None
        if user.role is UserRole.Anonymous:
            return {"read": "reader", "operate": "operator"}.get(self.anonymous)
        account = self.users.get(user.name) if user.role is UserRole.User else None
        return account.role if account is not None else None

    def identity_tokens(self) -> list[type]:
        tokens: list[type] = [ua.UserNameIdentityToken] if self.users else []
        if self.anonymous != "off":
            tokens.append(ua.AnonymousIdentityToken)
        return tokens


def read_users_file(path: str | Path) -> dict[str, UserAccount]:
    """Accounts from a users file (``name:role:argon2 hash`` a line); ValueError names the line."""
    path = Path(path)
    users: dict[str, UserAccount] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, rest = line.partition(":")
        role, _, password_hash = rest.partition(":")
        try:
            if not name or name in users:
                raise ValueError(f"user name {name!r} empty or repeated")
            users[name] = UserAccount(name, role, password_hash)
        except ValueError as exc:
            raise ValueError(f"{path}:{number}: {exc}; expected name:role:$argon2id$...") from None
    return users


def write_user(path: str | Path, account: UserAccount) -> None:
    """Add ``account`` to a users file, replacing an account of the same name (mode 0600)."""
    path = Path(path)
    users = read_users_file(path) if path.exists() else {}
    users[account.name] = account
    text = "".join(f"{u.name}:{u.role}:{u.password_hash}\n" for u in users.values())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


class AccessUserManager(UserManager):
    """asyncua user manager: known users with the right password, anonymous if allowed; never
    ``Admin``."""

    def __init__(self, policy: AccessPolicy) -> None:
        self.policy = policy

    def get_user(self, iserver, username=None, password=None, certificate=None) -> User | None:
        if username is None:
            return None if self.policy.anonymous == "off" else User(role=UserRole.Anonymous)
        account = self.policy.users.get(username)
        if account is None or not account.verify(password):
            return None
        return User(role=UserRole.User, name=username)


class AccessRuleset(PermissionRuleset):
    """asyncua permission ruleset: which request types a session's role may send."""

    def __init__(self, policy: AccessPolicy) -> None:
        self.policy = policy

    def check_validity(self, user, action_type_id, body) -> bool:
        role = self.policy.role_of(user)
        allowed = _OPERATE if role == "operator" else _READ if role == "reader" else set()
        return action_type_id in allowed
