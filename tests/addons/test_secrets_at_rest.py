"""Add-on secrets are one Fernet ciphertext at rest, join ``manage.py reencrypt_secrets``, and
an undecryptable one is a 500 with nothing issued (never a credential from a wrong key)."""

import io
import json

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection

from addons.models import AddonConfiguration
from tests.addons.conftest import ADDONS, default_values
from tests.addons.test_admin import assert_no_secret
from tests.delegation.helpers import assert_error, delegate


def _raw_row(pk: int) -> dict:
    table = connection.ops.quote_name(AddonConfiguration._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} WHERE id = %s", [pk])
        columns = [col[0] for col in cursor.description]
        return dict(zip(columns, cursor.fetchone(), strict=True))


@pytest.fixture
def old_key(settings):
    key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [key]
    return key


@pytest.mark.parametrize("addon", ADDONS)
def test_secrets_column_holds_only_ciphertext(tenant_a, configure, keys, old_key, addon):
    """No column of the stored row holds a run of a secret; the ciphertext decrypts (with the
    field-encryption key) to the JSON object of the secrets."""
    config = configure(tenant_a, addon)
    _, secrets = default_values(addon, keys)
    row = _raw_row(config.pk)
    for value in row.values():
        assert_no_secret(str(value), list(secrets.values()))
    stored = json.loads(Fernet(old_key).decrypt(row["secrets_ciphertext"].encode()))
    assert stored == {name: value.strip() for name, value in secrets.items()}


def test_reencrypt_command_covers_addon_secrets(settings, old_key, client, tenant_a, configure):
    """reencrypt_secrets moves add-on ciphertexts to the new key; with the old key dropped the
    add-on still delegates."""
    configs = [configure(tenant_a, addon) for addon in ADDONS]
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    out = io.StringIO()
    call_command("reencrypt_secrets", stdout=out)
    assert "addons.addonconfiguration: 5 re-encrypted" in out.getvalue()
    for config in configs:
        raw = _raw_row(config.pk)["secrets_ciphertext"]
        Fernet(new_key).decrypt(raw.encode())
        with pytest.raises(InvalidToken):
            Fernet(old_key).decrypt(raw.encode())
    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    for name in ("appA", "apiC"):  # the fixtures hold the pre-rotation ciphertext
        tenant_a[name].refresh_from_db()
    tenant_a["tenant"].active_signing_key.refresh_from_db()  # appA signs with RS256
    for addon in ADDONS:
        params = {"nonce": "n"} if addon == "layer" else {}
        response = delegate(client, tenant_a, api_type=addon, **params)
        assert response.status_code == 200, (addon, response.content)


def test_undecryptable_secrets_give_500_and_nothing_issued(client, tenant_a, configure, audit):
    """An add-on ciphertext no configured key opens (written under a key since dropped):
    500 server_error, no credential, no sd row; the app path is unaffected."""
    config = configure(tenant_a, "azure_sb")
    foreign = Fernet(Fernet.generate_key()).encrypt(b'{"sas_key": "x"}').decode()
    AddonConfiguration.objects.filter(pk=config.pk).update(secrets_ciphertext=foreign)
    response = delegate(client, tenant_a, api_type="azure_sb")
    assert_error(response, 500, "server_error")
    assert set(response.json()) == {"error", "error_description"}
    assert not [row for row in audit() if row.type == "sd"]
    assert delegate(client, tenant_a, api_type="app").status_code == 200


def test_undecryptable_stored_secret_must_be_typed_again(tenant_a, configure, keys):
    """Saving a configuration whose stored secrets no key opens: without the secret typed
    again a clear error on that field (nothing saved); typed again it saves."""
    config = configure(tenant_a, "wams")
    foreign = Fernet(Fernet.generate_key()).encrypt(b'{"master_key": "x"}').decode()
    AddonConfiguration.objects.filter(pk=config.pk).update(secrets_ciphertext=foreign)
    with pytest.raises(ValidationError) as excinfo:
        configure(tenant_a, "wams", secrets={}, lifetime_in_seconds=60)
    assert "cannot be decrypted" in excinfo.value.message_dict["master_key"][0]
    assert AddonConfiguration.objects.get(pk=config.pk).settings["lifetime_in_seconds"] == 3600
    saved = configure(tenant_a, "wams", lifetime_in_seconds=60)
    assert saved.secret_values() == {"master_key": keys["wams_master_key"]}
