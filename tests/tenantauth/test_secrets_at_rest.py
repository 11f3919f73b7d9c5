"""Client secrets and private keys are stored only as Fernet ciphertext."""

import pytest
from cryptography.fernet import MultiFernet
from django.conf import settings
from django.db import connection

from tenantauth import crypto, services
from tenantauth.models import Application, SigningKey


def _fernet() -> MultiFernet:
    from cryptography.fernet import Fernet

    return MultiFernet([Fernet(key) for key in settings.FIELD_ENCRYPTION_KEYS])


def _raw_row(table: str, pk: int) -> dict:
    """The row exactly as the database holds it, bypassing the ORM."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)} WHERE id = %s", [pk])
        columns = [col[0] for col in cursor.description]
        return dict(zip(columns, cursor.fetchone(), strict=True))


def test_client_secret_column_holds_only_ciphertext(tenant_a):
    """The raw client_secret_ciphertext column never contains the secret; Fernet gives it back,
    and no other column of the row contains it either."""
    for name in ("appA", "appB", "apiC"):
        app = tenant_a[name]
        secret = app.client_secret()
        assert len(secret.encode()) >= 32
        row = _raw_row(Application._meta.db_table, app.pk)
        stored = row["client_secret_ciphertext"]
        assert secret not in stored
        assert _fernet().decrypt(stored.encode()).decode() == secret
        assert not [column for column, value in row.items() if secret in str(value)]


def test_chosen_secret_is_encrypted_too(tenant_a):
    """A secret set by an admin (rotation) is stored encrypted as well."""
    app = tenant_a["appA"]
    chosen = "an-admin-chosen-secret-of-40-bytes-long!"
    services.application_rotate_secret(application=app, secret=chosen)
    stored = _raw_row(Application._meta.db_table, app.pk)["client_secret_ciphertext"]
    assert chosen not in stored
    assert _fernet().decrypt(stored.encode()).decode() == chosen


def test_private_key_column_holds_only_ciphertext(tenant_a):
    """The raw private_key_ciphertext column has no PEM markers or key body; it decrypts to a
    PKCS#8 PEM whose public half is the published JWK."""
    from cryptography.hazmat.primitives import serialization

    from tenantauth import signing

    services.signing_key_rotate(tenant=tenant_a["tenant"])
    keys = SigningKey.objects.filter(tenant=tenant_a["tenant"])
    assert keys.count() == 2
    for key in keys:
        row = _raw_row(SigningKey._meta.db_table, key.pk)
        stored = row["private_key_ciphertext"]
        assert "-----BEGIN" not in stored and "PRIVATE KEY" not in stored
        pem = _fernet().decrypt(stored.encode()).decode()
        assert pem.startswith("-----BEGIN PRIVATE KEY-----")
        body = pem.splitlines()[1]
        assert not [column for column, value in row.items() if body in str(value)]
        private = serialization.load_pem_private_key(pem.encode(), password=None)
        assert signing.public_jwk(private.public_key())["n"] == key.public_jwk["n"]


def test_undecryptable_values_raise_one_error_naming_the_cause():
    """decrypt and rotate fail the same way on a value no configured key opens: the error the
    re-encryption command and the 500 page's log report, with the same sentence."""
    from cryptography.fernet import Fernet

    foreign = Fernet(Fernet.generate_key()).encrypt(b"secret").decode()
    for function in (crypto.decrypt, crypto.rotate):
        for value in ("not-a-ciphertext", foreign):
            with pytest.raises(crypto.DecryptionError) as info:
                function(value)
            assert str(info.value) == "stored secret cannot be decrypted with the configured keys"


def test_fingerprint_is_the_sha256_of_text_or_bytes():
    """What pages show instead of a secret: SHA-256 in hex, the same for str and its UTF-8."""
    expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"  # FIPS 180-2
    assert crypto.fingerprint("abc") == crypto.fingerprint(b"abc") == expected
