"""Save-time validation of each add-on's form and of ``addon_configure``: bad key material,
missing and unknown fields and out-of-range values each give a clear error on the field
concerned and save nothing; blank secrets keep the stored ones."""

import base64
import secrets as pysecrets

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.exceptions import ValidationError

from addons import forms, registry, services
from addons.models import AddonConfiguration
from delegation.models import AuditEvent
from tests.addons.conftest import ADDONS, default_values, new_rsa_pem


def _ec_pem() -> str:
    return (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )


@pytest.fixture(scope="module")
def short_rsa_pem():
    return new_rsa_pem(1024)


def _errors(addon, keys, *, secrets=None, configuration=None, **overrides):
    settings, default_secrets = default_values(addon, keys)
    settings.update(overrides)
    form = registry.SPECS[addon].form_class.bind(
        enabled=True,
        settings=settings,
        secrets=default_secrets if secrets is None else secrets,
        configuration=configuration,
    )
    form.is_valid()
    return {field: " ".join(messages) for field, messages in form.errors.items()}


@pytest.mark.parametrize("addon", ADDONS)
def test_defaults_are_valid(addon, keys):
    assert _errors(addon, keys) == {}


@pytest.mark.parametrize("addon", ["firebase", "layer"])
@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("not a pem at all", "not a valid unencrypted PEM key"),
        ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", "not a valid"),
        ("ec", "must be an RSA key"),
        ("short", "at least 2048 bits"),
    ],
)
def test_private_key_must_be_rsa_2048_pem(addon, keys, short_rsa_pem, key, message):
    key = {"ec": _ec_pem(), "short": short_rsa_pem}.get(key, key)
    errors = _errors(addon, keys, secrets={"private_key": key})
    assert list(errors) == ["private_key"] and message in errors["private_key"]
    assert len(key) < 30 or key[30:60] not in errors["private_key"]


@pytest.mark.parametrize(
    ("addon", "field", "value", "message"),
    [
        ("azure_blob", "storage_access_key", "not base64!!", "not valid base64"),
        ("azure_blob", "storage_access_key", base64.b64encode(b"k" * 32).decode(), "64 bytes"),
        ("azure_sb", "sas_key", "%%%%", "not valid base64"),
        ("azure_sb", "sas_key", base64.b64encode(b"k" * 16).decode(), "32 bytes"),
        ("wams", "master_key", "short-master-key", "at least 32"),
        ("wams", "master_key", "has spaces " * 4, "without spaces"),
    ],
)
def test_secret_keys_are_checked(addon, field, value, message, keys):
    errors = _errors(addon, keys, secrets={field: value})
    assert list(errors) == [field] and message in errors[field]
    assert value not in errors[field]


def test_firebase_legacy_secret_length(keys):
    errors = _errors(
        "firebase", keys, token_format="legacy", secrets={"secret": "too-short-secret"}
    )
    assert "at least 32" in errors["secret"]


@pytest.mark.parametrize(
    ("addon", "overrides", "field", "message"),
    [
        ("firebase", {"lifetime_in_seconds": 3601}, "lifetime_in_seconds", "less than or equal"),
        ("firebase", {"lifetime_in_seconds": 0}, "lifetime_in_seconds", "greater than or equal"),
        ("firebase", {"client_email": ""}, "client_email", "required for custom tokens"),
        ("firebase", {"private_key_id": "a b"}, "private_key_id", "Letters, digits"),
        ("firebase", {"uid_attribute": "password"}, "uid_attribute", "valid choice"),
        ("firebase", {"claims_attributes": ["password"]}, "claims_attributes", "valid choice"),
        ("azure_blob", {"account_name": "Dev_Account"}, "account_name", "lower-case"),
        ("azure_blob", {"container_name": "a--b"}, "container_name", "single hyphens"),
        ("azure_blob", {"blob_name": "../etc/passwd"}, "blob_name", "'..'"),
        ("azure_blob", {"expiration": 1441}, "expiration", "less than or equal"),
        ("azure_blob", {"expiration": 0}, "expiration", "stored access policy"),
        ("azure_blob", {"signed_identifier": "x" * 65}, "signed_identifier", "Up to 64"),
        ("azure_sb", {"namespace": "ab"}, "namespace", "6 to 50"),
        ("azure_sb", {"entity_path": "a b"}, "entity_path", "queue or topic"),
        ("azure_sb", {"sas_key_name": "bad name"}, "sas_key_name", "policy name"),
        ("azure_sb", {"expiration": 0}, "expiration", "greater than or equal"),
        ("layer", {"provider_id": "4a8e2c1e"}, "provider_id", "layer:///providers/"),
        ("layer", {"key_id": "layer:///providers/x"}, "key_id", "layer:///keys/"),
        ("wams", {"lifetime_in_seconds": 30 * 24 * 3600 + 1}, "lifetime_in_seconds", "less"),
    ],
)
def test_settings_are_checked(addon, overrides, field, message, keys):
    errors = _errors(addon, keys, **overrides)
    assert field in errors and message in errors[field], errors


@pytest.mark.parametrize("addon", ADDONS)
def test_missing_fields_are_required(addon, keys):
    """Every setting without a default and every secret in use is required on a new
    configuration: "This field is required." on each."""
    form_class = registry.SPECS[addon].form_class
    form = form_class.bind(enabled=True, settings={}, secrets={})
    assert not form.is_valid()
    needed = set(form.needed_secrets(form.cleaned_data))
    required = {n for n in form_class.SETTINGS if form.fields[n].required} | needed
    assert required <= set(form.errors)
    for name in required:
        assert "required" in " ".join(form.errors[name])


def test_blob_needs_a_permission_or_a_policy(keys):
    errors = _errors("azure_blob", keys, blob_read=False, blob_write=False)
    assert "at least one blob permission" in errors["__all__"]
    errors = _errors("azure_blob", keys, blob_name="", container_read=False)
    assert "at least one container permission" in errors["__all__"]
    assert (
        _errors("azure_blob", keys, blob_read=False, blob_write=False, signed_identifier="policy")
        == {}
    )


@pytest.mark.parametrize("addon", ADDONS)
def test_unknown_fields_are_refused(addon, keys, tenant_a):
    """A misspelt setting or secret is an error naming it, and nothing is saved."""
    settings, secrets = default_values(addon, keys)
    for bad_settings, bad_secrets in (
        ({**settings, "experation": 5}, secrets),
        (settings, {**secrets, "privat_key": "x"}),
    ):
        with pytest.raises(ValidationError) as excinfo:
            services.addon_configure(
                tenant=tenant_a["tenant"],
                application=tenant_a["apiC"],
                addon=addon,
                enabled=True,
                settings=bad_settings,
                secrets=bad_secrets,
            )
        assert "Unknown field(s)" in str(excinfo.value.message_dict["__all__"])
    assert not AddonConfiguration.objects.exists()
    assert not AuditEvent.objects.filter(type="addon_changed").exists()


def test_unknown_addon_is_refused(tenant_a):
    with pytest.raises(ValidationError):
        services.addon_configure(
            tenant=tenant_a["tenant"],
            application=tenant_a["apiC"],
            addon="aws",
            enabled=True,
            settings={},
            secrets={},
        )


def test_blank_secret_keeps_the_stored_one_and_typed_one_replaces_it(tenant_a, configure, keys):
    """Editing without retyping the key keeps it; the form says it is set; a typed key
    replaces it; the audit names it "replaced", never its value."""
    config = configure(tenant_a, "azure_sb")
    first = config.secrets_ciphertext
    config = configure(tenant_a, "azure_sb", secrets={}, expiration=10)
    assert config.secret_values() == {"sas_key": keys["sb_key"]}
    assert config.secrets_ciphertext == first  # untouched
    form = forms.AzureServiceBusForm(configuration=config)
    assert "Currently set. Leave blank to keep it." in form.fields["sas_key"].help_text
    new_key = base64.b64encode(pysecrets.token_bytes(32)).decode()
    config = configure(tenant_a, "azure_sb", secrets={"sas_key": new_key})
    assert config.secret_values() == {"sas_key": new_key}
    events = list(AuditEvent.objects.filter(type="addon_changed").order_by("id"))
    assert [e.details.get("secrets") for e in events] == [
        {"sas_key": "replaced"},
        None,
        {"sas_key": "replaced"},
    ]
    assert events[1].details["settings"] == {"expiration": [5, 10]}
    assert events[0].details["created"] is True and events[0].details["addon"] == "azure_sb"
    for event in events:
        assert keys["sb_key"][:12] not in str(event.details)
        assert new_key[:12] not in str(event.details)


def test_firebase_format_switch_drops_unused_secrets(tenant_a, configure, keys):
    """Switching to the legacy format requires the secret and drops the service account's
    private key (audited as removed)."""
    configure(tenant_a, "firebase")
    with pytest.raises(ValidationError) as excinfo:
        configure(tenant_a, "firebase", token_format="legacy", secrets={})
    assert "secret" in excinfo.value.message_dict
    config = configure(
        tenant_a, "firebase", token_format="legacy", secrets={"secret": keys["firebase_secret"]}
    )
    assert config.secret_names == ["secret"]
    assert config.settings["client_email"] == ""
    event = AuditEvent.objects.filter(type="addon_changed").latest("id")
    assert event.details["secrets"] == {"secret": "replaced", "private_key": "removed"}


def test_enabling_without_change_is_audited_and_no_op_is_not(tenant_a, configure):
    configure(tenant_a, "wams", enabled=False)
    configure(tenant_a, "wams", enabled=True, secrets={})
    configure(tenant_a, "wams", enabled=True, secrets={})
    events = list(AuditEvent.objects.filter(type="addon_changed").order_by("id"))
    assert len(events) == 2 and events[1].details["enabled"] == [False, True]
    assert services.addon_change_summary(events[1].details) == "Enabled."
