"""Password hashing (argon2id). Only hashes are stored.

Guarantees:
- `verify_password` costs one argon2 verification whatever it is given: a
  staff member without a password (or an unknown username, passed as None)
  is checked against a dummy hash made with the same parameters, so the
  answer time does not tell whether an account exists.
- Hashing is CPU-heavy (tens of milliseconds): request handlers call these
  through `callcenter.offload.CpuPool`, never on the event loop.
"""

from __future__ import annotations

import secrets
import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
MIN_LENGTH = 8
_dummy: list[str] = []
_dummy_lock = threading.Lock()


def hash_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise ValueError(f"a password needs at least {MIN_LENGTH} characters")
    return _hasher.hash(password)


def _dummy_hash() -> str:
    with _dummy_lock:
        if not _dummy:
            _dummy.append(_hasher.hash(secrets.token_urlsafe(16)))
        return _dummy[0]


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches; an empty hash is checked against a dummy (always False)."""
    try:
        if not password_hash:
            _hasher.verify(_dummy_hash(), password)
            return False
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
