"""A provider's faults, each its own test, through ``POST /delegation`` (Salesforce add-on):
provider down, slow (and trickling), 500, a 4xx with an error body, a 10 MB answer, a
redirect, an answer that is no JSON, TLS not trusted. Each gets its OAuth answer (503
``temporarily_unavailable`` with ``Retry-After``, or 400 ``invalid_grant`` naming the
provider's sanitised error) and an ``fd`` row, and the worker is never held longer than the
deadline. Then the server-side request forgery rule: private and loopback destinations and
plain http are refused outside development, when an admin saves a URL and when a call is
made; and nothing of the assertion or a secret reaches the log."""

import datetime as dt
import ipaddress
import json
import logging
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.core.exceptions import ValidationError
from django.test import override_settings

from tenantauth import outbound
from tests.addons.conftest import DOWN_URL
from tests.addons.providers import SapTokenEndpoint, Scripted
from tests.delegation.helpers import assert_error, delegate

DEADLINE = 1.0
MARGIN = 0.75  # scheduling and the test client's own work, well under a second deadline


@pytest.fixture(autouse=True)
def short_deadline(settings):
    settings.OUTBOUND_TIMEOUT_SECONDS = DEADLINE
    settings.OUTBOUND_CONNECT_TIMEOUT_SECONDS = DEADLINE


def salesforce_at(configure, setup, url):
    configure(setup, "salesforce_api", token_url=url)


def timed_delegate(client, setup):
    started = time.monotonic()
    response = delegate(client, setup, api_type="salesforce_api")
    return response, time.monotonic() - started


def assert_unavailable(response, audit, reason, *, retry_after="5"):
    assert_error(response, 503, "temporarily_unavailable")
    assert response["Retry-After"] == retry_after
    (row,) = audit()
    assert (row.type, row.error, row.reason, row.api_type) == (
        "fd",
        "temporarily_unavailable",
        reason,
        "salesforce_api",
    )


def test_provider_down_connection_refused(client, tenant_a, configure, audit):
    salesforce_at(configure, tenant_a, f"{DOWN_URL}/services/oauth2/token")
    response, elapsed = timed_delegate(client, tenant_a)
    assert_unavailable(response, audit, "provider unreachable")
    assert elapsed < DEADLINE + MARGIN


def test_provider_slow_beyond_the_deadline(client, tenant_a, configure, audit):
    """The provider answers after 5 s: we answer 503 within the 1 s deadline."""
    with Scripted(delay=5) as server:
        salesforce_at(configure, tenant_a, server.base)
        response, elapsed = timed_delegate(client, tenant_a)
    assert_unavailable(response, audit, "provider timeout")
    assert elapsed < DEADLINE + MARGIN


def test_provider_trickling_bytes_is_cut_at_the_total_deadline(client, tenant_a, configure, audit):
    """One byte every 0.2 s (each read is quick, the whole answer takes 8 s): the deadline is
    for the whole call, not per read."""
    body = json.dumps({"access_token": "x" * 20}).encode()
    with Scripted(body=body, trickle=0.2) as server:
        salesforce_at(configure, tenant_a, server.base)
        response, elapsed = timed_delegate(client, tenant_a)
    assert_unavailable(response, audit, "provider timeout")
    assert elapsed < DEADLINE + MARGIN


def test_provider_500(client, tenant_a, configure, audit):
    """A 5xx is the provider's outage: 503, its own Retry-After passed on when it is small."""
    with Scripted(
        status=500, body=b'{"error": "server_error"}', headers={"Retry-After": "30"}
    ) as s:
        salesforce_at(configure, tenant_a, s.base)
        response, _ = timed_delegate(client, tenant_a)
    assert_unavailable(response, audit, "provider 5xx", retry_after="30")


def test_provider_4xx_with_error_body(client, tenant_a, configure, audit):
    """Salesforce's refusal (RFC 6749 section 5.2 body): 400 invalid_grant with the provider's
    code and description."""
    refusal = {"error": "invalid_grant", "error_description": "user hasn't approved this consumer"}
    with Scripted(status=400, body=json.dumps(refusal).encode()) as server:
        salesforce_at(configure, tenant_a, server.base)
        response, _ = timed_delegate(client, tenant_a)
    body = assert_error(response, 400, "invalid_grant")
    assert body["error_description"] == (
        "The provider's token service refused the assertion "
        "(invalid_grant: user hasn't approved this consumer)."
    )
    (row,) = audit()
    assert (row.type, row.error, row.reason) == ("fd", "invalid_grant", "provider refused 400")


@pytest.mark.parametrize(
    "description",
    [
        "bad\r\nX-Injected: 1",  # control characters: refused, never stripped
        "assertion eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiIzTVZHOS10ZW5hbnRhdXRoIn0.c2lnbmF0dXJl",
        "<script>alert(1)</script>\u2028",
    ],
)
def test_provider_error_text_is_sanitised(client, tenant_a, configure, audit, description):
    """A description with control characters, token-like text or characters outside RFC 6749's
    set is left out; the code stays."""
    refusal = {"error": "invalid_grant", "error_description": description}
    with Scripted(status=400, body=json.dumps(refusal).encode()) as server:
        salesforce_at(configure, tenant_a, server.base)
        response, _ = timed_delegate(client, tenant_a)
    body = assert_error(response, 400, "invalid_grant")
    assert body["error_description"] == (
        "The provider's token service refused the assertion (invalid_grant)."
    )


def test_provider_10_mb_answer(client, tenant_a, configure, audit):
    """A 10 MB answer without Content-Length: the read stops at the cap (256 KiB), 503."""
    with Scripted(size=10 * 1024 * 1024) as server:
        salesforce_at(configure, tenant_a, server.base)
        response, elapsed = timed_delegate(client, tenant_a)
    assert_unavailable(response, audit, "provider answer too large")
    assert elapsed < DEADLINE + MARGIN


def test_provider_declares_a_large_answer(client, tenant_a, configure, audit, settings):
    """A Content-Length over the cap is refused before reading the body."""
    settings.OUTBOUND_MAX_RESPONSE_BYTES = 1024
    with Scripted(body=b'{"access_token": "' + b"x" * 2048 + b'"}') as server:
        salesforce_at(configure, tenant_a, server.base)
        response, _ = timed_delegate(client, tenant_a)
    assert_unavailable(response, audit, "provider answer too large")


def test_provider_redirect_is_not_followed(client, tenant_a, configure, audit):
    """A 302 to another server: not followed (that server gets nothing), 503."""
    with Scripted(body=b'{"access_token": "stolen"}') as elsewhere:
        with Scripted(status=302, location=f"{elsewhere.base}/token") as server:
            salesforce_at(configure, tenant_a, server.base)
            response, _ = timed_delegate(client, tenant_a)
            assert len(server.requests) == 1
        assert elsewhere.requests == []
    assert_unavailable(response, audit, "provider redirected")


def test_provider_answer_not_json(client, tenant_a, configure, audit):
    with Scripted(body=b"<html>maintenance</html>") as server:
        salesforce_at(configure, tenant_a, server.base)
        response, _ = timed_delegate(client, tenant_a)
    assert_unavailable(response, audit, "provider answer not json")


# --- TLS ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def loopback_tls(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1: (certificate path, key path)."""
    directory = tmp_path_factory.mktemp("tls")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


def test_tls_is_verified_with_the_ca_bundle_setting(
    client, tenant_a, configure, audit, settings, loopback_tls
):
    """An https provider whose certificate the system store does not trust: refused (503);
    with that certificate as OUTBOUND_CA_BUNDLE: its answer comes through."""
    body = json.dumps({"access_token": "tls-ok", "token_type": "Bearer"}).encode()
    with Scripted(body=body, tls=loopback_tls) as server:
        assert server.base.startswith("https://")
        salesforce_at(configure, tenant_a, server.base)
        untrusted, _ = timed_delegate(client, tenant_a)
        settings.OUTBOUND_CA_BUNDLE = loopback_tls[0]
        trusted, _ = timed_delegate(client, tenant_a)
    assert_error(untrusted, 503, "temporarily_unavailable")
    assert trusted.status_code == 200 and trusted.json()["access_token"] == "tls-ok"
    assert [(r.type, r.reason) for r in audit()] == [
        ("fd", "provider unreachable"),
        ("sd", ""),
    ]


# --- server-side request forgery --------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/services/oauth2/token",
        "https://localhost:8443/token",
        "https://10.1.2.3/token",
        "https://192.168.0.10/token",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/token",
        "https://[fd00::1]/token",
        "https://0.0.0.0/token",
        "http://login.salesforce.com/services/oauth2/token",
        "https://user:pass@login.salesforce.com/services/oauth2/token",
    ],
)
def test_private_loopback_and_http_urls_refused_when_saved(tenant_a, configure, settings, url):
    """Outside development (OUTBOUND_ALLOW_PRIVATE_NETWORKS off) an admin cannot save a
    token URL pointing at a private, loopback or link-local address, or plain http."""
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = False
    with pytest.raises(ValidationError) as refused:
        configure(tenant_a, "salesforce_api", token_url=url)
    assert "token_url" in refused.value.message_dict


def test_ssrf_rule_checks_every_url_field(tenant_a, configure, settings):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = False
    for addon, field in [
        ("sap_api", "token_endpoint_url"),
        ("aws", "sts_endpoint_url"),
        ("salesforce_api", "community_url"),
    ]:
        with pytest.raises(ValidationError) as refused:
            configure(tenant_a, addon, **{field: "https://127.0.0.1:9443/x"})
        assert field in refused.value.message_dict


def test_a_saved_loopback_url_is_refused_at_call_time(client, tenant_a, configure, audit, settings):
    """A URL saved while allowed (development) and a host that resolves to loopback: once
    private networks are off, the call is refused before anything is sent (the address is
    checked after resolution, where the connection is made)."""
    with Scripted(body=b'{"access_token": "x"}') as server:
        salesforce_at(configure, tenant_a, server.base.replace("http://", "https://"))
        url = server.base.replace("http://127.0.0.1", "https://localhost")
        configure(tenant_a, "salesforce_api", token_url=url)
        settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = False
        response, _ = timed_delegate(client, tenant_a)
        assert server.requests == []
    assert_unavailable(response, audit, "provider address refused")


def test_plain_http_is_refused_at_call_time(client, tenant_a, configure, audit, settings):
    with Scripted(body=b'{"access_token": "x"}') as server:
        salesforce_at(configure, tenant_a, server.base)
        settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = False
        response, _ = timed_delegate(client, tenant_a)
        assert server.requests == []
    assert_unavailable(response, audit, "provider url refused")


def test_address_rule():
    """Public unicast only (IPv4-mapped IPv6 unwrapped)."""
    with override_settings(OUTBOUND_ALLOW_PRIVATE_NETWORKS=False):
        assert outbound.address_allowed("52.94.236.248")
        assert outbound.address_allowed("2600:1f18::1")
        for address in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.0.1",
            "169.254.169.254",
            "::1",
            "::ffff:127.0.0.1",
            "fe80::1%eth0",
            "224.0.0.1",
            "100.64.0.1",
        ]:
            assert not outbound.address_allowed(address), address


# --- nothing secret in the log ------------------------------------------------------------------
def test_no_assertion_or_secret_in_the_log(client, tenant_a, configure, keys, caplog):
    """A SAP exchange that succeeds and one that SAP refuses, logged at DEBUG: neither the
    assertion, nor the service password, nor the access token appears in any log record."""
    caplog.set_level(logging.DEBUG)
    with SapTokenEndpoint(client_id="sb-tenantauth!t1", password=keys["sap_password"]) as server:
        configure(tenant_a, "sap_api", token_endpoint_url=server.token_url)
        ok = delegate(client, tenant_a, api_type="sap_api")
        configure(tenant_a, "sap_api", token_endpoint_url=server.token_url, client_id="other")
        refused = delegate(client, tenant_a, api_type="sap_api")
    assert ok.status_code == 200 and refused.status_code == 400
    secrets = [keys["sap_password"], ok.json()["access_token"]]
    secrets += [r["form"]["assertion"][0] for r in server.requests]
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    for secret in secrets:
        for start in range(0, len(secret) - 16, 16):
            assert secret[start : start + 16] not in logged


def test_deploy_check_warns_when_private_networks_are_open_in_production(settings):
    from django.core import checks

    settings.PRODUCTION, settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True, True
    assert [
        w.id for w in checks.run_checks(include_deployment_checks=True) if w.id == "tenantauth.W020"
    ] == ["tenantauth.W020"]
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = False
    assert outbound.check_private_networks_closed() == []
