"""Staff passwords: argon2id hashes (argon2-cffi), the minimum length, and a dummy hash to verify against
when the email is unknown (so a wrong email takes as long as a wrong password)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from bot.staff.errors import InvalidStaffInput

MIN_PASSWORD_LENGTH = 10


def check_new_password(password: str) -> None:
    """Refuse a password a member may not choose (`InvalidStaffInput` naming the field)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidStaffInput(
            "password",
            f"it has {len(password)} characters; choose one of at least {MIN_PASSWORD_LENGTH} (a short sentence works)",
        )


class Passwords:
    """Hash and verify with one `PasswordHasher` (argon2id, the library's defaults unless tests pass cheaper
    parameters)."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self.hasher = hasher or PasswordHasher()
        self._dummy: str | None = None

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """True when `password` matches; with no hash (unknown email) a dummy is verified, and False returned."""
        if stored_hash is None:
            if self._dummy is None:
                self._dummy = self.hasher.hash("not a password anyone has")
            stored_hash, known = self._dummy, False
        else:
            known = True
        try:
            return self.hasher.verify(stored_hash, password) and known
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        return self.hasher.check_needs_rehash(stored_hash)
