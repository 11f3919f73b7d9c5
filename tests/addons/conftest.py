"""Fixtures for the add-on tests: freshly generated keys (never committed), valid settings
per add-on, and a helper that configures an add-on through the service."""

import base64
import secrets as pysecrets

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from addons import services
from tests.addons import emulators
from tests.delegation.conftest import audit  # noqa: F401 - the sd/fd rows fixture

# Azurite's documented development account (public; fine in tests and the demo).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
# Add-ons whose credential is made here (no provider to call).
ADDONS = ("firebase", "azure_blob", "azure_sb", "layer", "wams")
# Add-ons that trade a signed assertion at a provider's token service (tenantauth.outbound).
REMOTE_ADDONS = ("aws", "salesforce_api", "salesforce_sandbox_api", "sap_api")
# Nothing listens on the discard port: the defaults point at a provider that is down.
DOWN_URL = "http://127.0.0.1:9"
ROLE_ARN = "arn:aws:iam::123456789012:role/tenantauth-demo"
PRINCIPAL_ARN = "arn:aws:iam::123456789012:saml-provider/tenantauth"


def new_rsa_pem(bits: int = 2048) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture(scope="session")
def azurite(tmp_path_factory):
    """Base URL of an Azurite blob service (session-wide; stopped after the session)."""
    yield from emulators.start_azurite(tmp_path_factory.mktemp("azurite"))


@pytest.fixture(scope="session")
def firebase_auth_emulator(tmp_path_factory):
    """Base URL of the Firebase Auth emulator for project ``demo-tenantauth``."""
    yield from emulators.start_firebase_auth(tmp_path_factory.mktemp("firebase"), "demo-tenantauth")


@pytest.fixture(scope="session")
def rsa_pem() -> str:
    return new_rsa_pem()


@pytest.fixture(scope="session")
def other_rsa_pem() -> str:
    return new_rsa_pem()


@pytest.fixture(scope="session")
def keys(rsa_pem) -> dict:
    """Secrets of this test session, generated now."""
    return {
        "firebase_secret": pysecrets.token_urlsafe(30),
        "sb_key": base64.b64encode(pysecrets.token_bytes(32)).decode(),
        "wams_master_key": pysecrets.token_urlsafe(32),
        "sap_password": pysecrets.token_urlsafe(24),
        "rsa_pem": rsa_pem,
    }


def default_values(addon: str, keys: dict) -> tuple[dict, dict]:
    """Valid ``(settings, secrets)`` for ``addon``."""
    if addon == "firebase":
        return (
            {
                "token_format": "custom_token",
                "client_email": "tenantauth@demo-i8.iam.gserviceaccount.com",
                "private_key_id": "0f" * 20,
                "lifetime_in_seconds": 3600,
                "uid_attribute": "user_id",
                "claims_attributes": [],
            },
            {"private_key": keys["rsa_pem"]},
        )
    if addon == "azure_blob":
        return (
            {
                "account_name": AZURITE_ACCOUNT,
                "container_name": "uploads",
                "blob_name": "report.txt",
                "expiration": 5,
                "signed_identifier": "",
                "blob_read": True,
                "blob_write": True,
                "blob_delete": False,
                "container_read": True,
                "container_write": False,
                "container_delete": False,
                "container_list": False,
                "https_only": True,
                "allow_blob_name_override": False,
                "allow_container_name_override": False,
            },
            {"storage_access_key": AZURITE_KEY},
        )
    if addon == "azure_sb":
        return (
            {
                "namespace": "tenantauth-demo",
                "entity_path": "orders",
                "sas_key_name": "RootManageSharedAccessKey",
                "expiration": 5,
            },
            {"sas_key": keys["sb_key"]},
        )
    if addon == "layer":
        return (
            {
                "provider_id": "layer:///providers/4a8e2c1e-0000-4000-8000-000000000001",
                "key_id": "layer:///keys/4a8e2c1e-0000-4000-8000-000000000002",
                "principal_attribute": "user_id",
                "expiration": 10,
            },
            {"private_key": keys["rsa_pem"]},
        )
    if addon == "wams":
        return (
            {"uid_attribute": "user_id", "lifetime_in_seconds": 3600},
            {"master_key": keys["wams_master_key"]},
        )
    if addon in ("salesforce_api", "salesforce_sandbox_api"):
        return (
            {
                "consumer_key": "3MVG9-tenantauth-test-consumer-key",
                "principal_attribute": "email",
                "community_url": "",
                "token_url": f"{DOWN_URL}/services/oauth2/token",
                "lifetime_in_seconds": 180,
            },
            {},
        )
    if addon == "sap_api":
        return (
            {
                "client_id": "sb-tenantauth!t1",
                "username_attribute": "email",
                "token_endpoint_url": f"{DOWN_URL}/oauth/token",
                "audience": "",
                "scope": "",
                "name_id_format": "emailAddress",
                "lifetime_in_seconds": 300,
            },
            {"service_password": keys.get("sap_password", "sap-" + "p" * 20)},
        )
    if addon == "aws":
        return (
            {
                "role": ROLE_ARN,
                "principal": PRINCIPAL_ARN,
                "lifetime_in_seconds": 3600,
                "session_name_attribute": "email",
                "region": "us-east-1",
                "sts_endpoint_url": DOWN_URL,
                "allow_overrides": False,
                "allowed_roles": [],
                "allowed_principals": [],
            },
            {},
        )
    raise AssertionError(addon)


@pytest.fixture
def configure(keys):
    """``configure(setup, addon, target=apiC, enabled=True, **setting_overrides)``: configure
    an add-on on a target through the service; returns the configuration."""

    def run(setup, addon, *, target=None, enabled=True, secrets=None, **overrides):
        settings, default_secrets = default_values(addon, keys)
        settings.update(overrides)
        return services.addon_configure(
            tenant=setup["tenant"],
            application=target or setup["apiC"],
            addon=addon,
            enabled=enabled,
            settings=settings,
            secrets=default_secrets if secrets is None else secrets,
            actor=setup["admin"],
        )

    return run
