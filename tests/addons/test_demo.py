"""``manage.py demo`` registers addonsDemo in acme (Allowed APPs / APIs = appA, appB) with
every add-on enabled on generated local credentials, and ``demo --json`` gives what a script
needs to call /delegation for each api_type, as the README does."""

import hashlib
import io
import json
from urllib.parse import urlencode

import jwt
import pytest
from azure.storage.blob import BlobClient, ContainerClient
from cryptography.hazmat.primitives import serialization
from django.core.management import call_command

from addons.management.commands.addons_devserver import providers
from addons.minters.firebase import FIREBASE_AUDIENCE
from addons.models import AddonConfiguration
from tenantauth.models import Application
from tests.addons.conftest import ADDONS, REMOTE_ADDONS
from tests.addons.test_admin import assert_no_secret

GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
FORM = "application/x-www-form-urlencoded"


def _post_form(client, url, data):
    """A form POST as curl -d sends it."""
    return client.post(url, urlencode(data), content_type=FORM)


@pytest.fixture
def demo(db, monkeypatch):
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "demo-admin-pw-4711!")
    monkeypatch.setenv("DEMO_USER_PASSWORD", "demo-user-pw-0815!")
    out = io.StringIO()
    call_command("demo", "--json", stdout=out)
    return json.loads(out.getvalue())


def _id_token(client, demo, source="appA"):
    app = demo["applications"][source]
    response = _post_form(
        client,
        "/t/acme/oauth/token",
        {
            "grant_type": "http://auth0.com/oauth/grant-type/password-realm",
            "realm": "Username-Password-Authentication",
            "username": demo["user"]["email"],
            "password": demo["user"]["password"],
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "scope": "openid",
        },
    )
    assert response.status_code == 200, response.content
    return response.json()["id_token"]


def _delegate(client, demo, api_type, **extra):
    return _post_form(
        client,
        "/t/acme/delegation",
        {
            "client_id": demo["applications"]["appA"]["client_id"],
            "target": demo["applications"]["addonsDemo"]["client_id"],
            "grant_type": GRANT,
            "id_token": _id_token(client, demo),
            "api_type": api_type,
            **extra,
        },
    )


def _public(pem):
    return serialization.load_pem_private_key(pem.encode(), password=None).public_key()


def test_demo_registers_addons_demo_with_every_addon(demo):
    """addonsDemo allows appA and appB; every add-on is enabled; --json lists each one's
    settings and its secrets (as it lists client secrets); a second run keeps them."""
    app = Application.objects.get(tenant__slug="acme", name="addonsDemo")
    assert app.allowed_clients == [
        demo["applications"]["appA"]["client_id"],
        demo["applications"]["appB"]["client_id"],
    ]
    assert set(demo["addons"]) == set(ADDONS) | set(REMOTE_ADDONS)
    for addon, described in demo["addons"].items():
        config = AddonConfiguration.objects.get(application=app, addon=addon)
        assert described["enabled"] is config.enabled is True
        assert described["settings"] == config.settings
        assert described["secrets"] == config.secret_values()
        # AWS and Salesforce sign with the tenant key: they have no secret of their own.
        assert bool(described["secrets"]) is (addon not in ("aws", *REMOTE_ADDONS[1:3]))
    assert demo["addons"]["azure_blob"]["settings"]["account_name"] == "devstoreaccount1"
    again = io.StringIO()
    call_command("demo", "--json", stdout=again)
    assert json.loads(again.getvalue())["addons"] == demo["addons"]


def test_demo_human_output_hides_addon_secrets(demo):
    out = io.StringIO()
    call_command("demo", stdout=out)
    assert "addonsDemo" in out.getvalue()
    for described in demo["addons"].values():
        assert_no_secret(out.getvalue(), list(described["secrets"].values()))


def test_demo_delegation_for_each_api_type(client, demo):
    """The README's calls: appA's id_token traded for each add-on's credential of
    addonsDemo; each verifies with the secrets --json printed."""
    addons = demo["addons"]
    firebase = _delegate(client, demo, "firebase").json()
    claims = jwt.decode(
        firebase["id_token"],
        _public(addons["firebase"]["secrets"]["private_key"]),
        algorithms=["RS256"],
        audience=FIREBASE_AUDIENCE,
    )
    assert claims["claims"]["email"] == demo["user"]["email"]

    assert "sr=c" in _delegate(client, demo, "azure_blob").json()["azure_blob_sas"]
    sas = _delegate(client, demo, "azure_sb").json()["azure_sb_sas"]
    assert "sr=https%3A%2F%2Faddons-demo.servicebus.windows.net%2Forders" in sas

    layer = _delegate(client, demo, "layer", nonce="from-layer").json()
    claims = jwt.decode(
        layer["id_token"],
        _public(addons["layer"]["secrets"]["private_key"]),
        algorithms=["RS256"],
        issuer=addons["layer"]["settings"]["provider_id"],
    )
    assert claims["nce"] == "from-layer"

    wams = _delegate(client, demo, "wams").json()
    key = hashlib.sha256((addons["wams"]["secrets"]["master_key"] + "JWTSig").encode()).digest()
    assert jwt.decode(wams["id_token"], key, algorithms=["HS256"], audience="Custom")["uid"]

    # api_type omitted: the first enabled add-on in the documented order (Firebase).
    default = _delegate(client, demo, "").json()["id_token"]
    assert jwt.decode(default, options={"verify_signature": False})["aud"] == FIREBASE_AUDIENCE


def test_demo_blob_sas_works_against_azurite(client, demo, azurite):
    """The README's Azure Blob flow: with the demo's container SAS and a blobName, upload and
    download a blob on Azurite."""
    ContainerClient(
        f"{azurite}/devstoreaccount1",
        "demo",
        credential={
            "account_name": "devstoreaccount1",
            "account_key": demo["addons"]["azure_blob"]["secrets"]["storage_access_key"],
        },
        api_version="2025-05-05",
    ).create_container()
    sas = _delegate(client, demo, "azure_blob", blobName="hello.txt").json()["azure_blob_sas"]
    blob = BlobClient(
        f"{azurite}/devstoreaccount1",
        "demo",
        "hello.txt",
        credential=sas,
        api_version="2025-05-05",
    )
    blob.upload_blob(b"hello from the demo", overwrite=True)
    assert blob.download_blob().readall() == b"hello from the demo"


def test_demo_remote_addons_against_the_devserver(client, demo):
    """``manage.py addons_devserver``'s stand-ins (moto STS, the Salesforce and SAP token
    endpoints, on the demo's fixed loopback ports) answer addonsDemo's AWS, Salesforce
    (production and sandbox) and SAP add-ons; the human output says how to start them."""
    with providers("acme") as urls:
        assert urls["aws"] == "http://127.0.0.1:5010"
        aws = _delegate(client, demo, "aws")
        assert aws.status_code == 200, aws.content
        assert aws.json()["AssumedRoleUser"]["Arn"].startswith(
            "arn:aws:sts::123456789012:assumed-role/addons-demo/"
        )
        for api_type in ("salesforce_api", "salesforce_sandbox_api", "sap_api"):
            answer = _delegate(client, demo, api_type)
            assert answer.status_code == 200, (api_type, answer.content)
            assert answer.json()["access_token"]
    out = io.StringIO()
    call_command("demo", stdout=out)
    assert "manage.py addons_devserver" in out.getvalue()
