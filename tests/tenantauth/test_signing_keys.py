"""Tenant signing keys: RFC 7638 kids, RSA >= 2048 bits, one active key, rotation overlap."""

import time
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from django.db import IntegrityError, transaction
from django.utils import timezone

from delegation.models import AuditEvent
from tenantauth import selectors, services, signing
from tenantauth.models import Application, SigningKey

# RFC 7638 section 3.1: the example RSA JWK and its SHA-256 thumbprint.
RFC7638_JWK = {
    "kty": "RSA",
    "n": (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_B"
        "JECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_"
        "FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhA"
        "I4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    ),
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}
RFC7638_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_thumbprint_matches_rfc7638_example():
    """jwk_thumbprint reproduces the RFC's example, ignoring non-required members."""
    assert signing.jwk_thumbprint(RFC7638_JWK) == RFC7638_THUMBPRINT
    reordered = {k: RFC7638_JWK[k] for k in ("n", "kid", "e", "alg", "kty")}
    assert signing.jwk_thumbprint(reordered) == RFC7638_THUMBPRINT
    assert signing.jwk_thumbprint({**RFC7638_JWK, "e": "AQAC"}) != RFC7638_THUMBPRINT


def test_tenant_keys_have_thumbprint_kids_and_2048_bits(tenant_a, tenant_b):
    """Each tenant's active key: kid = RFC 7638 thumbprint of its public JWK, RSA >= 2048 bits,
    a private key matching the public JWK, and different keys for different tenants."""
    kids = set()
    for setup in (tenant_a, tenant_b):
        key = SigningKey.objects.get(tenant=setup["tenant"], status="active")
        assert key.kid == signing.jwk_thumbprint(key.public_jwk)
        assert key.public_jwk["kid"] == key.kid
        assert (key.public_jwk["alg"], key.public_jwk["use"]) == ("RS256", "sig")
        private = serialization.load_pem_private_key(key.private_key_pem().encode(), None)
        assert private.key_size >= 2048
        assert signing.public_jwk(private.public_key())["n"] == key.public_jwk["n"]
        assert setup["tenant"].active_signing_key_id == key.pk
        kids.add(key.kid)
    assert len(kids) == 2


def test_weak_rsa_keys_refused():
    """Generating or loading an RSA key under 2048 bits raises."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    with pytest.raises(signing.WeakKeyError):
        signing.generate_rsa_private_key(1024)
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(ValueError, match="2048"):
        signing.load_rsa_private_pem(signing.private_key_to_pem(small))


def test_second_active_key_violates_the_database_constraint(tenant_a):
    """The database itself allows one active key per tenant."""
    tenant = tenant_a["tenant"]
    private = signing.generate_rsa_private_key()
    jwk = signing.public_jwk(private.public_key())
    with pytest.raises(IntegrityError), transaction.atomic():
        SigningKey.objects.create(
            tenant=tenant,
            kid=signing.jwk_thumbprint(jwk),
            status=SigningKey.Status.ACTIVE,
            private_key_ciphertext="x",
            public_jwk=jwk,
        )
    assert SigningKey.objects.filter(tenant=tenant, status="active").count() == 1


def test_rotation_keeps_retired_key_verifying(tenant_a):
    """After rotation the old key is retired with verify_until in the future, stays among the
    verification keys, and tokens it signed still verify with its public JWK."""
    tenant = tenant_a["tenant"]
    app = Application.objects.get(pk=tenant_a["apiC"].pk)
    app.jwt_signature_algorithm = "RS256"
    old = SigningKey.objects.get(tenant=tenant, status="active")
    claims = {"sub": "auth0|abc", "aud": app.client_id, "exp": int(time.time()) + 600}
    old_token = signing.sign_jwt(claims=claims, application=app, tenant=tenant)
    assert jwt.get_unverified_header(old_token)["kid"] == old.kid

    new = services.signing_key_rotate(tenant=tenant, actor=tenant_a["admin"])
    old.refresh_from_db()
    tenant.refresh_from_db()
    assert old.status == "retired"
    assert old.verify_until > timezone.now()
    assert (old.verify_until - old.retired_at).total_seconds() >= max(
        Application.objects.filter(tenant=tenant).values_list("jwt_lifetime_seconds", flat=True)
    )
    assert tenant.active_signing_key_id == new.pk != old.pk
    assert new.kid == signing.jwk_thumbprint(new.public_jwk)
    assert set(selectors.verification_keys(tenant=tenant).values_list("kid", flat=True)) == {
        old.kid,
        new.kid,
    }
    found = selectors.verification_key_get(tenant=tenant, kid=old.kid)
    public = jwt.algorithms.RSAAlgorithm.from_jwk(found.public_jwk)
    assert jwt.decode(old_token, public, algorithms=["RS256"], audience=app.client_id) == claims

    new_token = signing.sign_jwt(claims=claims, application=app, tenant=tenant)
    assert jwt.get_unverified_header(new_token)["kid"] == new.kid
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(new_token, public, algorithms=["RS256"], audience=app.client_id)

    event = AuditEvent.objects.get(tenant=tenant, type="key_rotated")
    assert event.details["new_kid"] == new.kid
    assert event.details["retired_kids"] == [old.kid]
    assert event.actor == tenant_a["admin"]


def test_retired_key_stops_verifying_after_verify_until(tenant_a):
    """Once verify_until passes, a retired key is no longer a verification key."""
    tenant = tenant_a["tenant"]
    old = SigningKey.objects.get(tenant=tenant, status="active")
    services.signing_key_rotate(tenant=tenant, overlap=timedelta(seconds=0))
    tenant.refresh_from_db()
    assert selectors.verification_key_get(tenant=tenant, kid=old.kid) is None
    assert SigningKey.objects.filter(pk=old.pk, status="retired").exists()


def test_verification_keys_never_cross_tenants(tenant_a, tenant_b):
    """Tenant B's kid is unknown to tenant A."""
    b_kid = SigningKey.objects.get(tenant=tenant_b["tenant"], status="active").kid
    assert selectors.verification_key_get(tenant=tenant_a["tenant"], kid=b_kid) is None
