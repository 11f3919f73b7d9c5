"""Azure Service Bus: our SharedAccessSignature is byte for byte what the ``azure-servicebus``
SDK builds for the same URI, key name, key and expiry."""

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, quote_plus

import pytest
import time_machine
from azure.servicebus._base_handler import ServiceBusSharedKeyCredential, _generate_sas_token

from addons.minters import azure_sb
from tests.delegation.helpers import delegate

NOW = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("entity_path", "key_name", "minutes"),
    [
        ("orders", "RootManageSharedAccessKey", 5),
        ("topic-1/subscriptions/sub.a_b", "send-only.policy_1", 60),
        ("q", "k", 1440 - 1),
    ],
)
def test_endpoint_sas_equals_the_sdk_byte_for_byte(
    client, tenant_a, configure, keys, entity_path, key_name, minutes
):
    """Frozen time: /delegation's azure_sb_sas equals the SDK's token for
    https://<namespace>.servicebus.windows.net/<entity_path> with the same policy and key."""
    configure(
        tenant_a, "azure_sb", entity_path=entity_path, sas_key_name=key_name, expiration=minutes
    )
    with time_machine.travel(NOW, tick=False):
        response = delegate(client, tenant_a, api_type="azure_sb")
        uri = f"https://tenantauth-demo.servicebus.windows.net/{entity_path}"
        sdk = _generate_sas_token(uri, key_name, keys["sb_key"], timedelta(minutes=minutes))
    assert response.status_code == 200, response.content
    assert response.json() == {"azure_sb_sas": sdk.token}
    assert sdk.expires_on == int(NOW.timestamp()) + minutes * 60


def test_sixty_minutes_equals_the_public_credential(client, tenant_a, configure, keys):
    """With a 60-minute expiration the SAS equals what the SDK's public
    ServiceBusSharedKeyCredential hands its clients (its default lifetime is an hour)."""
    configure(tenant_a, "azure_sb", expiration=60)
    with time_machine.travel(NOW, tick=False):
        response = delegate(client, tenant_a, api_type="azure_sb")
        credential = ServiceBusSharedKeyCredential("RootManageSharedAccessKey", keys["sb_key"])
        token = credential.get_token("https://tenantauth-demo.servicebus.windows.net/orders")
    assert response.json()["azure_sb_sas"] == token.token


def test_signature_is_keyed_with_the_key_strings_utf8_bytes(keys):
    """The HMAC key is the key string itself (UTF-8), not its base64 decoding: the same
    signature as the SDK's helper, and a different one if the key were decoded."""
    from azure.servicebus._pyamqp.utils import generate_sas_token

    uri = "https://tenantauth-demo.servicebus.windows.net/orders"
    ours = azure_sb.shared_access_signature(
        uri=uri, key_name="p", key=keys["sb_key"], expires=2_000_000_000
    )
    assert ours == generate_sas_token(uri, "p", keys["sb_key"], 2_000_000_000)
    sig = parse_qs(ours.removeprefix("SharedAccessSignature "))["sig"][0]
    signed = f"{quote_plus(uri)}\n2000000000".encode()

    def b64_hmac(key: bytes) -> str:
        return base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()

    assert sig == b64_hmac(keys["sb_key"].encode())
    assert sig != b64_hmac(base64.b64decode(keys["sb_key"]))
