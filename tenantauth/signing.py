"""Key material in use: RSA key generation, RFC 7638 thumbprints and JWT signing.

Parsing an RSA PEM costs tens of milliseconds and a Fernet decrypt a few microseconds, so
decrypted secrets and parsed keys are cached per process. Cache keys include the ciphertext
itself: rotating a secret or key (or re-encrypting it) changes the ciphertext, so a stale key
can never be served.
"""

import base64
import hashlib
import json
import threading
from collections import OrderedDict

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tenantauth import crypto

MIN_HS256_SECRET_BYTES = 32
MIN_RSA_BITS = 2048


class WeakKeyError(Exception):
    """Stored key material is too weak to sign with; nothing may be issued."""


class KeyUnavailableError(Exception):
    """The tenant has no usable signing key (or it cannot be decrypted)."""


class _LRU:
    def __init__(self, size: int = 1024):
        self._data: OrderedDict = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get_or_set(self, key, make):
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        value = make()
        with self._lock:
            self._data[key] = value
            if len(self._data) > self._size:
                self._data.popitem(last=False)
        return value

    def clear(self):
        with self._lock:
            self._data.clear()


_secrets = _LRU()
_private_keys = _LRU()
_public_keys = _LRU()


def clear_caches() -> None:
    _secrets.clear()
    _private_keys.clear()
    _public_keys.clear()


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def public_jwk(public_key: rsa.RSAPublicKey) -> dict:
    numbers = public_key.public_numbers()
    return {"kty": "RSA", "n": _b64url_uint(numbers.n), "e": _b64url_uint(numbers.e)}


def jwk_thumbprint(jwk: dict) -> str:
    """RFC 7638: SHA-256 over the required members, sorted, no whitespace."""
    required = {"RSA": ("e", "kty", "n")}[jwk["kty"]]
    canonical = json.dumps({k: jwk[k] for k in required}, separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def generate_rsa_private_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    if bits < MIN_RSA_BITS:
        raise WeakKeyError(f"RSA keys must have at least {MIN_RSA_BITS} bits.")
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def private_key_to_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def load_rsa_private_pem(pem: str) -> rsa.RSAPrivateKey:
    """Parse and check a PEM private key; raises ValueError with a safe message."""
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError("The private key is not a valid unencrypted PEM key.") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("The private key must be an RSA key.")
    if key.key_size < MIN_RSA_BITS:
        raise ValueError(f"RSA keys must have at least {MIN_RSA_BITS} bits.")
    return key


def hs256_secret(application) -> bytes:
    """The application's client secret as HMAC key bytes, refusing weak secrets."""

    def make():
        secret = crypto.decrypt(application.client_secret_ciphertext).encode()
        if len(secret) < MIN_HS256_SECRET_BYTES:
            raise WeakKeyError("client secret shorter than 256 bits")
        return secret

    return _secrets.get_or_set((application.pk, application.client_secret_ciphertext), make)


def rsa_private_key(signing_key) -> rsa.RSAPrivateKey:
    def make():
        try:
            pem = crypto.decrypt(signing_key.private_key_ciphertext)
        except crypto.DecryptionError as exc:
            raise KeyUnavailableError("signing key cannot be decrypted") from exc
        key = serialization.load_pem_private_key(pem.encode(), password=None)
        if key.key_size < MIN_RSA_BITS:
            raise WeakKeyError("RSA signing key shorter than 2048 bits")
        return key

    return _private_keys.get_or_set(
        (signing_key.tenant_id, signing_key.kid, signing_key.private_key_ciphertext), make
    )


def rsa_public_key(signing_key) -> rsa.RSAPublicKey:
    jwk = signing_key.public_jwk
    return _public_keys.get_or_set(
        (signing_key.tenant_id, signing_key.kid, jwk["n"], jwk["e"]),
        lambda: jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(jwk)),
    )


def sign_jwt(*, claims: dict, application, tenant) -> str:
    """Sign claims for ``application`` per its JWT signature algorithm.

    HS256 uses the application's client secret; RS256 the tenant's active key, whose ``kid``
    goes in the header. ``tenant.active_signing_key`` should be loaded with select_related.
    """
    if application.jwt_signature_algorithm == "RS256":
        key = tenant.active_signing_key
        if key is None:
            raise KeyUnavailableError("tenant has no active signing key")
        return jwt.encode(claims, rsa_private_key(key), algorithm="RS256", headers={"kid": key.kid})
    return jwt.encode(claims, hs256_secret(application), algorithm="HS256")
