"""The add-ons part of ``manage.py demo``: application ``addonsDemo`` with every add-on of
this project enabled on local test credentials, generated at demo time (never committed).

* Azure Blob Storage: Azurite's documented development account (``devstoreaccount1`` and its
  published key), container ``demo``, container SAS (read, write, list) with ``blobName``
  allowed, plain http allowed (Azurite listens on http);
* Firebase: a freshly generated service-account key (custom tokens);
* Azure Service Bus, Layer, WAMS: freshly generated keys;
* AWS, Salesforce (production and sandbox), SAP: the local stand-ins that
  ``manage.py addons_devserver`` serves on loopback (moto's STS, an Authlib RFC 7523 token
  endpoint, an RFC 7522 endpoint checking HTTP Basic); the assertions are signed with the
  tenant's key, which those stand-ins read from the database when they start.

Idempotent: an existing configuration (and its secrets) is kept.
"""

import base64
import secrets
import uuid

from addons import registry, selectors, services
from tenantauth import services as tenant_services
from tenantauth import signing
from tenantauth.models import Application, Tenant

DEMO_APP = "addonsDemo"
# Loopback ports of ``manage.py addons_devserver`` (moto STS, Salesforce, SAP stand-ins).
DEV_PORTS = {"aws": 5010, "salesforce": 5011, "sap": 5012}
DEV_CONSUMER_KEY = "3MVG9-addons-demo-consumer-key"
DEV_SAP_CLIENT_ID = "sb-addons-demo!t1"
DEV_ROLE_ARN = "arn:aws:iam::123456789012:role/addons-demo"
DEV_PRINCIPAL_ARN = "arn:aws:iam::123456789012:saml-provider/tenantauth-acme"


def dev_url(service: str, path: str = "") -> str:
    return f"http://127.0.0.1:{DEV_PORTS[service]}{path}"


AZURITE_ACCOUNT = "devstoreaccount1"
# Azurite's documented, public development key (https://learn.microsoft.com/azure/storage/
# common/storage-use-azurite): it opens nothing but a local emulator.
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def _generated(addon: str) -> tuple[dict, dict]:
    """Settings and freshly generated secrets of ``addon`` for the demo."""
    if addon == "firebase":
        pem = signing.private_key_to_pem(signing.generate_rsa_private_key())
        return (
            {
                "token_format": "custom_token",
                "client_email": "addons-demo@demo-tenantauth.iam.gserviceaccount.com",
                "private_key_id": secrets.token_hex(20),
                "lifetime_in_seconds": 3600,
                "uid_attribute": "user_id",
                "claims_attributes": ["email", "name"],
            },
            {"private_key": pem},
        )
    if addon == "azure_blob":
        return (
            {
                "account_name": AZURITE_ACCOUNT,
                "container_name": "demo",
                "blob_name": "",
                "expiration": 5,
                "signed_identifier": "",
                "blob_read": True,
                "blob_write": True,
                "blob_delete": False,
                "container_read": True,
                "container_write": True,
                "container_delete": False,
                "container_list": True,
                "https_only": False,
                "allow_blob_name_override": True,
                "allow_container_name_override": False,
            },
            {"storage_access_key": AZURITE_KEY},
        )
    if addon == "azure_sb":
        return (
            {
                "namespace": "addons-demo",
                "entity_path": "orders",
                "sas_key_name": "RootManageSharedAccessKey",
                "expiration": 5,
            },
            {"sas_key": base64.b64encode(secrets.token_bytes(32)).decode()},
        )
    if addon == "layer":
        pem = signing.private_key_to_pem(signing.generate_rsa_private_key())
        return (
            {
                "provider_id": f"layer:///providers/{uuid.uuid4()}",
                "key_id": f"layer:///keys/{uuid.uuid4()}",
                "principal_attribute": "user_id",
                "expiration": 10,
            },
            {"private_key": pem},
        )
    if addon == "wams":
        return (
            {"uid_attribute": "user_id", "lifetime_in_seconds": 3600},
            {"master_key": secrets.token_urlsafe(32)},
        )
    if addon == "aws":
        return (
            {
                "role": DEV_ROLE_ARN,
                "principal": DEV_PRINCIPAL_ARN,
                "lifetime_in_seconds": 3600,
                "session_name_attribute": "email",
                "region": "us-east-1",
                "sts_endpoint_url": dev_url("aws"),
                "allow_overrides": False,
                "allowed_roles": [],
                "allowed_principals": [],
            },
            {},
        )
    if addon in ("salesforce_api", "salesforce_sandbox_api"):
        return (
            {
                "consumer_key": DEV_CONSUMER_KEY,
                "principal_attribute": "email",
                "community_url": "",
                "token_url": dev_url("salesforce", "/services/oauth2/token"),
                "lifetime_in_seconds": 180,
            },
            {},
        )
    if addon == "sap_api":
        return (
            {
                "client_id": DEV_SAP_CLIENT_ID,
                "username_attribute": "email",
                "token_endpoint_url": dev_url("sap", "/oauth/token"),
                "audience": "",
                "scope": "",
                "name_id_format": "emailAddress",
                "lifetime_in_seconds": 300,
            },
            {"service_password": secrets.token_urlsafe(24)},
        )
    raise ValueError(addon)


def addons_demo_ensure(*, tenant: Tenant, allowed_clients: list[str]) -> tuple[Application, dict]:
    """Create (or complete) ``addonsDemo`` in ``tenant``; return it and, per add-on, its
    ``enabled`` flag, non-secret ``settings`` and ``secrets`` (for ``demo --json``)."""
    app = Application.objects.filter(tenant=tenant, name=DEMO_APP).first()
    if app is None:
        app = tenant_services.application_create(
            tenant=tenant,
            name=DEMO_APP,
            app_type=Application.AppType.API,
            allowed_clients=allowed_clients,
        )
    configs = {
        c.addon: c for c in selectors.addon_configuration_list(tenant=tenant, application=app)
    }
    for addon in registry.SPECS:
        if addon not in configs:
            settings, generated = _generated(addon)
            configs[addon] = services.addon_configure(
                tenant=tenant,
                application=app,
                addon=addon,
                enabled=True,
                settings=settings,
                secrets=generated,
            )
    described = {
        addon: {
            "enabled": configs[addon].enabled,
            "settings": configs[addon].settings,
            "secrets": configs[addon].secret_values(),
        }
        for addon in registry.SPECS
    }
    return app, described
