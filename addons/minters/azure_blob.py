"""Azure Blob Storage: a service SAS (Azure's "Create a service SAS", version 2020-12-06 and
later), answered as ``{"azure_blob_sas": "<query string without leading ?>"}``.

String-to-sign (one field per line, no trailing newline)::

    sp, st, se, /blob/<account>/<container>[/<blob>], si, sip, spr, sv, sr,
    snapshot time, ses, rscc, rscd, rsce, rscl, rsct

signed with HMAC-SHA256 keyed with the base64-decoded account key; ``sig`` is its base64.
Permission letters are written in Azure's canonical order. ``st`` is omitted (valid at once,
immune to clock skew); ``se`` = now + ``expiration`` minutes, or omitted when a stored access
policy (``si``) sets the expiry. Values are percent-encoded as Azure's own SDKs do
(``urllib.parse.quote``, '/' kept), so the query string is byte for byte what
``azure-storage-blob``'s ``generate_blob_sas`` / ``generate_container_sas`` return.

Free-form parameters: ``blobName`` when the admin allows it (a blob of the configured
container: ``sr=b`` with the blob permissions), ``containerName`` when the admin allows any
container. Both are checked against Azure's naming rules; anything else is refused.
"""

import base64
import hashlib
import hmac
import time
from datetime import UTC, datetime
from urllib.parse import quote

from addons.forms import AZURE_CONTAINER, azure_blob_name_problem
from addons.minters.base import AddonMinter, expiry, new_id, parameter_refused
from delegation import minters

# The service version we sign for (sv); any version from 2020-12-06 on uses the string-to-sign
# above. 2025-05-05 is accepted by Azure and by the Azurite emulator the tests run.
SIGNED_VERSION = "2025-05-05"
# Azure's canonical order of permission letters (service SAS, blobs and containers).
PERMISSION_ORDER = "racwdxyltfmeopi"
_LETTERS = {"read": "r", "write": "w", "delete": "d", "list": "l"}


def canonical_permissions(letters: str) -> str:
    """``letters`` deduplicated and sorted in Azure's canonical order."""
    unknown = set(letters) - set(PERMISSION_ORDER)
    if unknown:
        raise ValueError(f"unknown SAS permission letters {sorted(unknown)}")
    return "".join(letter for letter in PERMISSION_ORDER if letter in letters)


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def service_sas(
    *,
    account_name: str,
    account_key: str,
    container_name: str,
    blob_name: str = "",
    permission: str = "",
    expiry_time: datetime | None = None,
    start: datetime | None = None,
    signed_identifier: str = "",
    protocol: str = "",
    version: str = SIGNED_VERSION,
) -> str:
    """A service SAS query string for a blob (``blob_name`` given: ``sr=b``) or a container
    (``sr=c``). ``account_key`` is the base64 account key; times are aware or UTC datetimes.

    Follows Azure Storage's "Create a service SAS" (versions 2020-12-06 and later).
    """
    resource = "b" if blob_name else "c"
    canonical = f"/blob/{account_name}/{container_name}" + (f"/{blob_name}" if blob_name else "")
    st = format_time(start) if start else ""
    se = format_time(expiry_time) if expiry_time else ""
    sp = canonical_permissions(permission) if permission else ""
    string_to_sign = "\n".join(
        [
            sp,
            st,
            se,
            canonical,
            signed_identifier,
            "",  # sip
            protocol,
            version,
            resource,
            "",  # signed snapshot time
            "",  # ses
            "",  # rscc
            "",  # rscd
            "",  # rsce
            "",  # rscl
            "",  # rsct
        ]
    )
    digest = hmac.new(
        base64.b64decode(account_key), string_to_sign.encode("utf-8"), hashlib.sha256
    ).digest()
    fields = [
        ("st", st),
        ("se", se),
        ("sp", sp),
        ("spr", protocol),
        ("sv", version),
        ("si", signed_identifier),
        ("sr", resource),
        ("sig", base64.b64encode(digest).decode()),
    ]
    return "&".join(f"{name}={quote(value)}" for name, value in fields if value)


class AzureBlobMinter(AddonMinter):
    api_type = "azure_blob"
    display_name = "Azure Blob Storage"

    def accepted_parameters(self, settings):
        accepted = set()
        if settings.get("allow_blob_name_override"):
            accepted.add("blobName")
        if settings.get("allow_container_name_override"):
            accepted.add("containerName")
        return frozenset(accepted)

    def build(self, *, request, config, params) -> minters.Minted:
        settings = config.settings
        container = params.get("containerName", settings["container_name"])
        blob = params.get("blobName", settings["blob_name"])
        if "containerName" in params and not AZURE_CONTAINER.match(container):
            raise parameter_refused("containerName invalid")
        if "blobName" in params and azure_blob_name_problem(blob):
            raise parameter_refused("blobName invalid")
        scope = "blob" if blob else "container"
        flags = ("read", "write", "delete") if blob else ("read", "write", "delete", "list")
        letters = "".join(_LETTERS[flag] for flag in flags if settings.get(f"{scope}_{flag}"))
        now = int(time.time())
        minutes = int(settings["expiration"])
        expires_at = expiry(now, minutes * 60) if minutes else None
        sas = service_sas(
            account_name=settings["account_name"],
            account_key=config.secret_values()["storage_access_key"],
            container_name=container,
            blob_name=blob,
            permission=letters,
            expiry_time=expires_at,
            signed_identifier=settings.get("signed_identifier", ""),
            protocol="https" if settings.get("https_only", True) else "",
        )
        return minters.Minted(
            body={"azure_blob_sas": sas},
            jti=new_id(),
            credential=sas,
            expires_at=expires_at,
        )
