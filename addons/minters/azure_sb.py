"""Azure Service Bus: a shared access signature for one entity, answered as
``{"azure_sb_sas": "SharedAccessSignature sr=...&sig=...&se=...&skn=..."}``.

Per Azure's "Service Bus access control with Shared Access Signatures": the resource URI is
``https://<namespace>.servicebus.windows.net/<entity_path>``; ``se`` is the expiry in Unix
seconds; ``sig`` is the base64 HMAC-SHA256, keyed with the key string's UTF-8 bytes, of
``urlencoded(uri) + "\\n" + se``; every value is form-urlencoded (``quote_plus``) in the order
``sr, sig, se, skn``: byte for byte what the ``azure-servicebus`` SDK builds. No free-form
request parameter is accepted.
"""

import base64
import hashlib
import hmac
import time
from urllib.parse import quote_plus

from addons.minters.base import AddonMinter, expiry, new_id
from delegation import minters


def resource_uri(*, namespace: str, entity_path: str) -> str:
    return f"https://{namespace}.servicebus.windows.net/{entity_path}"


def shared_access_signature(*, uri: str, key_name: str, key: str, expires: int) -> str:
    """``SharedAccessSignature sr=&sig=&se=&skn=`` for ``uri`` until ``expires`` (Unix s)."""
    encoded_uri = quote_plus(uri)
    signed = f"{encoded_uri}\n{expires}".encode()
    signature = base64.b64encode(hmac.new(key.encode(), signed, hashlib.sha256).digest())
    return (
        f"SharedAccessSignature sr={encoded_uri}&sig={quote_plus(signature.decode())}"
        f"&se={expires}&skn={quote_plus(key_name)}"
    )


class AzureServiceBusMinter(AddonMinter):
    api_type = "azure_sb"
    display_name = "Azure Service Bus"

    def build(self, *, request, config, params) -> minters.Minted:
        settings = config.settings
        now = int(time.time())
        seconds = int(settings["expiration"]) * 60
        sas = shared_access_signature(
            uri=resource_uri(namespace=settings["namespace"], entity_path=settings["entity_path"]),
            key_name=settings["sas_key_name"],
            key=config.secret_values()["sas_key"],
            expires=now + seconds,
        )
        return minters.Minted(
            body={"azure_sb_sas": sas},
            jti=new_id(),
            credential=sas,
            expires_at=expiry(now, seconds),
        )
