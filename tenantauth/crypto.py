"""The one seam through which secrets we must use are encrypted at rest.

Keys come from ``settings.FIELD_ENCRYPTION_KEYS``: the first one encrypts, all of them decrypt,
so a new key can be put in front and old rows re-encrypted at leisure (``manage.py
reencrypt_secrets``).
"""

import hashlib
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.signals import setting_changed


class DecryptionError(Exception):
    """A stored ciphertext could not be decrypted with any configured key."""


@cache
def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in settings.FIELD_ENCRYPTION_KEYS])


def _reset(*, setting, **kwargs):
    if setting == "FIELD_ENCRYPTION_KEYS":
        _fernet.cache_clear()


setting_changed.connect(_reset)


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return _fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError("stored secret cannot be decrypted with the configured keys") from exc


def rotate(ciphertext: str) -> str:
    """Re-encrypt under the newest key (no-op in meaning, new bytes)."""
    try:
        return _fernet().rotate(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError("stored secret cannot be decrypted with the configured keys") from exc


def fingerprint(value: str | bytes) -> str:
    """A short, non-reversible label for a secret or token, safe to show and to search by."""
    data = value.encode() if isinstance(value, str) else value
    return hashlib.sha256(data).hexdigest()
