"""The tenant's signing certificate: a self-signed X.509 wrapper around its active RS256 key.

Some verifiers (SAML-era libraries, Auth0's own dashboard "Certificates" tab) want a PEM
certificate rather than a JWK. The certificate is derived, never stored: every field is a
function of the key (serial from the RFC 7638 thumbprint, validity from the key's creation)
and PKCS#1 v1.5 signatures are deterministic, so the same key always yields the same bytes.
Results are cached per process, keyed by the key's ciphertext like ``signing``'s caches.
"""

import base64
import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from tenantauth import signing
from tenantauth.models import SigningKey, Tenant

CERTIFICATE_YEARS = 10


@dataclass(frozen=True)
class SigningCertificate:
    """``pem``: the certificate (RFC 7468 "CERTIFICATE"); fingerprints are colon-separated hex
    of the DER encoding; ``kid`` is the key's RFC 7638 thumbprint; ``not_after`` is UTC."""

    pem: str
    sha1: str
    sha256: str
    kid: str
    not_after: dt.datetime


_cache = signing._LRU(size=256)


def _serial(kid: str) -> int:
    # 159 bits of the thumbprint: positive and within RFC 5280's 20-octet limit.
    digest = base64.urlsafe_b64decode(kid + "=" * (-len(kid) % 4))
    return int.from_bytes(digest[:20], "big") >> 1 or 1


def _colon_hex(data: bytes) -> str:
    return ":".join(f"{byte:02X}" for byte in data)


def signing_certificate(*, tenant: Tenant, key: SigningKey) -> SigningCertificate:
    """A self-signed certificate (RFC 5280) for ``key``: subject and issuer ``CN=<slug>``, the
    tenant issuer as its URI subject alternative name, valid ten years from the key's creation.

    Raises ``signing.KeyUnavailableError`` when the private key cannot be decrypted.
    """

    def make() -> SigningCertificate:
        private_key = signing.rsa_private_key(key)
        # A slug has at most 63 characters: within the common name's 64 (RFC 5280 ub-common-name).
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, tenant.slug)])
        not_before = key.created_at.replace(microsecond=0)
        not_after = not_before + dt.timedelta(days=365 * CERTIFICATE_YEARS)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(private_key.public_key())
            .serial_number(_serial(key.kid))
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.SubjectAlternativeName([x509.UniformResourceIdentifier(tenant.issuer)]),
                critical=False,
            )
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(private_key, hashes.SHA256())
        )
        return SigningCertificate(
            pem=certificate.public_bytes(serialization.Encoding.PEM).decode(),
            sha1=_colon_hex(certificate.fingerprint(hashes.SHA1())),  # noqa: S303 - display only
            sha256=_colon_hex(certificate.fingerprint(hashes.SHA256())),
            kid=key.kid,
            not_after=not_after,
        )

    return _cache.get_or_set((tenant.issuer, key.kid, key.private_key_ciphertext), make)
