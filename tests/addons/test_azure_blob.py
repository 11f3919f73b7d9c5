"""Azure Blob Storage: our SAS is byte for byte what ``azure-storage-blob`` generates for the
same inputs, and the Azurite emulator accepts and refuses it as Azure would."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from azure.core.exceptions import HttpResponseError
from azure.storage.blob import (
    BlobClient,
    BlobSasPermissions,
    BlobServiceClient,
    ContainerClient,
    ContainerSasPermissions,
    generate_blob_sas,
    generate_container_sas,
)
from azure.storage.blob._shared.constants import X_MS_VERSION
from azure.storage.blob._shared_access_signature import BlobSharedAccessSignature

from addons.minters import azure_blob
from tests.addons.conftest import AZURITE_ACCOUNT, AZURITE_KEY
from tests.delegation.helpers import delegate

NOW = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
# A service version both the SDK and Azurite 3.35 speak, for the SDK's own requests.
CLIENT_API_VERSION = "2025-05-05"


def _sas_from_endpoint(client, setup, configure, *, at=NOW, **addon_settings):
    configure(setup, "azure_blob", **addon_settings)
    with time_machine.travel(at, tick=False):
        response = delegate(client, setup, api_type="azure_blob")
    assert response.status_code == 200, response.content
    return response.json()["azure_blob_sas"]


def _sdk_factory(version=azure_blob.SIGNED_VERSION):
    """The SDK's own SAS factory, at the service version we sign for."""
    factory = BlobSharedAccessSignature(AZURITE_ACCOUNT, account_key=AZURITE_KEY)
    factory.x_ms_version = version
    return factory


CASES = [
    # (settings, SDK call)
    (
        {"blob_name": "report.txt", "blob_read": True, "blob_write": True},
        lambda f, exp: f.generate_blob(
            "uploads",
            "report.txt",
            permission=BlobSasPermissions(read=True, write=True),
            expiry=exp,
            protocol="https",
        ),
    ),
    (
        {
            "blob_name": "dir/a b+c.txt",
            "blob_read": False,
            "blob_write": False,
            "blob_delete": True,
            "https_only": False,
            "expiration": 60,
        },
        lambda f, exp: f.generate_blob(
            "uploads", "dir/a b+c.txt", permission=BlobSasPermissions(delete=True), expiry=exp
        ),
    ),
    (
        {
            "blob_name": "",
            "container_read": True,
            "container_write": True,
            "container_delete": True,
            "container_list": True,
        },
        lambda f, exp: f.generate_container(
            "uploads",
            permission=ContainerSasPermissions(read=True, write=True, delete=True, list=True),
            expiry=exp,
            protocol="https",
        ),
    ),
    (
        {"blob_name": "", "signed_identifier": "readers", "container_read": False, "expiration": 0},
        lambda f, exp: f.generate_container("uploads", policy_id="readers", protocol="https"),
    ),
    (
        {
            "blob_name": "report.txt",
            "signed_identifier": "writers",
            "blob_read": True,
            "expiration": 15,
        },
        lambda f, exp: f.generate_blob(
            "uploads",
            "report.txt",
            permission="r",
            expiry=exp,
            policy_id="writers",
            protocol="https",
        ),
    ),
]


@pytest.mark.parametrize(
    ("addon_settings", "sdk"),
    CASES,
    ids=["blob", "blob-http", "container", "policy", "blob-policy"],
)
def test_endpoint_sas_equals_the_sdk_byte_for_byte(
    client, tenant_a, configure, addon_settings, sdk
):
    """Frozen time, same account, key, resource, permissions, expiry, policy and protocol: the
    query string /delegation answers is exactly what the SDK's factory builds at our sv."""
    defaults = {"blob_read": False, "blob_write": False, "container_read": False}
    ours = _sas_from_endpoint(client, tenant_a, configure, **{**defaults, **addon_settings})
    minutes = addon_settings.get("expiration", 5)
    expiry = NOW + timedelta(minutes=minutes) if minutes else None
    assert ours == sdk(_sdk_factory(), expiry)


@pytest.mark.parametrize("permission", ["r", "rw", "rwd", "d", "w"])
def test_our_function_equals_generate_blob_sas_at_the_sdk_version(permission):
    """``service_sas`` with the SDK's default service version equals the public
    ``generate_blob_sas`` / ``generate_container_sas`` for the same inputs."""
    expiry = NOW + timedelta(minutes=5)
    ours = azure_blob.service_sas(
        account_name=AZURITE_ACCOUNT,
        account_key=AZURITE_KEY,
        container_name="uploads",
        blob_name="x/y.bin",
        permission=permission,
        expiry_time=expiry,
        protocol="https",
        version=X_MS_VERSION,
    )
    sdk = generate_blob_sas(
        AZURITE_ACCOUNT,
        "uploads",
        "x/y.bin",
        account_key=AZURITE_KEY,
        permission=BlobSasPermissions.from_string(permission),
        expiry=expiry,
        protocol="https",
    )
    assert ours == sdk
    ours = azure_blob.service_sas(
        account_name=AZURITE_ACCOUNT,
        account_key=AZURITE_KEY,
        container_name="uploads",
        permission=permission + "l",
        expiry_time=expiry,
        start=NOW,
        signed_identifier="p1",
        version=X_MS_VERSION,
    )
    sdk = generate_container_sas(
        AZURITE_ACCOUNT,
        "uploads",
        account_key=AZURITE_KEY,
        permission=ContainerSasPermissions.from_string(permission + "l"),
        expiry=expiry,
        start=NOW,
        policy_id="p1",
    )
    assert ours == sdk


def test_permission_letters_follow_azures_canonical_order():
    """Our order is the SDK's: every subset of r/w/d/l, however given, comes out canonical."""
    for letters in ["ldwr", "dr", "wl", "lr", "rwdl"]:
        flags = {"r": "read", "w": "write", "d": "delete", "l": "list"}
        sdk = str(ContainerSasPermissions(**{flags[c]: True for c in letters}))
        assert azure_blob.canonical_permissions(letters) == sdk


# --- Azurite ---------------------------------------------------------------------------------
@pytest.fixture
def container(azurite):
    """A fresh container in Azurite, created with the account key (the admin's side)."""
    service = BlobServiceClient(
        f"{azurite}/{AZURITE_ACCOUNT}",
        credential={"account_name": AZURITE_ACCOUNT, "account_key": AZURITE_KEY},
        api_version=CLIENT_API_VERSION,
    )
    name = f"c{datetime.now().strftime('%H%M%S%f')}"
    service.create_container(name)
    yield name
    service.delete_container(name)


def _blob(azurite, container, blob, sas):
    return BlobClient(
        f"{azurite}/{AZURITE_ACCOUNT}",
        container,
        blob,
        credential=sas,
        api_version=CLIENT_API_VERSION,
    )


def _delegated_sas(client, setup, configure, container, *, at=None, **addon_settings):
    configure(setup, "azure_blob", container_name=container, https_only=False, **addon_settings)
    with time_machine.travel(at or datetime.now(UTC), tick=False):
        response = delegate(client, setup, api_type="azure_blob")
    assert response.status_code == 200, response.content
    return response.json()["azure_blob_sas"]


def test_azurite_accepts_upload_and_download(client, tenant_a, configure, azurite, container):
    """A read/write SAS for report.txt from /delegation: Azurite stores the upload and serves
    the download."""
    sas = _delegated_sas(client, tenant_a, configure, container, blob_name="report.txt")
    blob = _blob(azurite, container, "report.txt", sas)
    blob.upload_blob(b"quarterly numbers", overwrite=True)
    assert blob.download_blob().readall() == b"quarterly numbers"


def test_azurite_refuses_another_blob(client, tenant_a, configure, azurite, container):
    """The same SAS used for another blob of the container: 403, nothing written."""
    sas = _delegated_sas(client, tenant_a, configure, container, blob_name="report.txt")
    with pytest.raises(HttpResponseError) as excinfo:
        _blob(azurite, container, "other.txt", sas).upload_blob(b"x")
    assert excinfo.value.status_code == 403
    names = list(
        ContainerClient(
            f"{azurite}/{AZURITE_ACCOUNT}",
            container,
            credential={"account_name": AZURITE_ACCOUNT, "account_key": AZURITE_KEY},
            api_version=CLIENT_API_VERSION,
        ).list_blob_names()
    )
    assert names == []


def test_azurite_refuses_after_expiry(client, tenant_a, configure, azurite, container):
    """A SAS minted ten minutes ago with a five-minute expiration: 403."""
    sas = _delegated_sas(
        client,
        tenant_a,
        configure,
        container,
        blob_name="report.txt",
        at=datetime.now(UTC) - timedelta(minutes=10),
    )
    with pytest.raises(HttpResponseError) as excinfo:
        _blob(azurite, container, "report.txt", sas).upload_blob(b"late")
    assert excinfo.value.status_code == 403


def test_azurite_refuses_a_permission_not_granted(client, tenant_a, configure, azurite, container):
    """A read-only SAS: Azurite refuses the upload (403) and the delete, and serves a read of
    what the admin wrote."""
    admin_side = ContainerClient(
        f"{azurite}/{AZURITE_ACCOUNT}",
        container,
        credential={"account_name": AZURITE_ACCOUNT, "account_key": AZURITE_KEY},
        api_version=CLIENT_API_VERSION,
    )
    admin_side.upload_blob("report.txt", b"read me")
    sas = _delegated_sas(
        client, tenant_a, configure, container, blob_name="report.txt", blob_write=False
    )
    blob = _blob(azurite, container, "report.txt", sas)
    for attempt in (lambda: blob.upload_blob(b"overwrite", overwrite=True), blob.delete_blob):
        with pytest.raises(HttpResponseError) as excinfo:
            attempt()
        assert excinfo.value.status_code == 403
    assert blob.download_blob().readall() == b"read me"


def test_azurite_container_sas_lists_and_refuses_other_container(
    client, tenant_a, configure, azurite, container
):
    """A container SAS (read, list) lists its container and is refused for another one."""
    sas = _delegated_sas(client, tenant_a, configure, container, blob_name="", container_list=True)
    mine = ContainerClient(
        f"{azurite}/{AZURITE_ACCOUNT}", container, credential=sas, api_version=CLIENT_API_VERSION
    )
    assert list(mine.list_blob_names()) == []
    other = ContainerClient(
        f"{azurite}/{AZURITE_ACCOUNT}",
        container + "x",
        credential=sas,
        api_version=CLIENT_API_VERSION,
    )
    with pytest.raises(HttpResponseError) as excinfo:
        list(other.list_blob_names())
    assert excinfo.value.status_code == 403
