"""Rotating the field-encryption key: old ciphertext keeps working, re-encryption moves it."""

import io

import jwt
import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import call_command
from django.db import connection

from tenantauth import crypto, signing
from tenantauth.models import Application, SigningKey


def _raw(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {connection.ops.quote_name(column)} FROM "
            f"{connection.ops.quote_name(table)} WHERE id = %s",
            [pk],
        )
        return cursor.fetchone()[0]


def _raw_secret(app) -> str:
    return _raw(Application._meta.db_table, "client_secret_ciphertext", app.pk)


def _raw_key(key) -> str:
    return _raw(SigningKey._meta.db_table, "private_key_ciphertext", key.pk)


@pytest.fixture
def old_key(settings):
    """Start from a single known key, as a deployment that has never rotated."""
    key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [key]
    return key


def test_old_ciphertext_decrypts_after_new_key_put_first(settings, old_key, tenant_a):
    """With a new key in front, secrets encrypted under the old key still decrypt, and new
    secrets are encrypted under the new key."""
    app = tenant_a["apiC"]
    secret = app.client_secret()
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]

    assert Application.objects.get(pk=app.pk).client_secret() == secret
    assert Fernet(old_key).decrypt(_raw_secret(app).encode()).decode() == secret
    fresh = crypto.encrypt("encrypted-after-rotation")
    assert Fernet(new_key).decrypt(fresh.encode()) == b"encrypted-after-rotation"
    with pytest.raises(InvalidToken):
        Fernet(old_key).decrypt(fresh.encode())


def test_reencrypt_command_moves_everything_to_the_new_key(settings, old_key, tenant_a):
    """``reencrypt_secrets`` re-encrypts client secrets and private keys under the first key;
    afterwards the new key alone decrypts them and RS256 signing still works."""
    apps = [Application.objects.get(pk=tenant_a[n].pk) for n in ("appA", "appB", "apiC")]
    secrets_before = {app.pk: app.client_secret() for app in apps}
    key = SigningKey.objects.get(tenant=tenant_a["tenant"], status="active")
    pem_before = key.private_key_pem()

    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    out = io.StringIO()
    call_command("reencrypt_secrets", stdout=out)
    assert "application: 3 re-encrypted" in out.getvalue()
    assert "signing_key: 1 re-encrypted" in out.getvalue()
    for value in secrets_before.values():
        assert value not in out.getvalue()

    only_new = Fernet(new_key)
    for app in apps:
        raw = _raw_secret(app)
        assert only_new.decrypt(raw.encode()).decode() == secrets_before[app.pk]
        with pytest.raises(InvalidToken):
            Fernet(old_key).decrypt(raw.encode())
    assert only_new.decrypt(_raw_key(key).encode()).decode() == pem_before

    # Drop the old key entirely: everything still works.
    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    signing.clear_caches()
    for app in apps:
        assert Application.objects.get(pk=app.pk).client_secret() == secrets_before[app.pk]
    tenant = tenant_a["tenant"]
    tenant.refresh_from_db()
    rs256_app = Application.objects.get(pk=tenant_a["apiC"].pk)
    rs256_app.jwt_signature_algorithm = "RS256"
    token = signing.sign_jwt(claims={"sub": "x"}, application=rs256_app, tenant=tenant)
    public = jwt.algorithms.RSAAlgorithm.from_jwk(key.public_jwk)
    assert jwt.decode(token, public, algorithms=["RS256"])["sub"] == "x"


def test_dropping_the_old_key_without_reencrypting_fails_loudly(settings, old_key, tenant_a):
    """Control: without re-encryption, removing the old key makes stored secrets unreadable
    (a DecryptionError, never a wrong value), which is why the command exists."""
    app = tenant_a["appA"]
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(crypto.DecryptionError):
        Application.objects.get(pk=app.pk).client_secret()
