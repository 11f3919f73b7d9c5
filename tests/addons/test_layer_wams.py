"""Layer and Windows Azure Mobile Services: the tokens verify with PyJWT and with npm ``jose``
(a small Node script) using the configured keys, and fail with any other key."""

import hashlib
import json
import os
import subprocess
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from tests.addons import emulators
from tests.addons.conftest import default_values
from tests.delegation.helpers import delegate

SCRIPT = Path(__file__).resolve().parent / "js" / "verify_jwt.mjs"


def jose_verify(request: dict) -> tuple[int, dict]:
    emulators.require(emulators.NODE_DIR / "node_modules" / "jose" / "package.json")
    run = subprocess.run(
        ["node", str(SCRIPT)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "NODE_PACKAGES_DIR": str(emulators.NODE_DIR)},
    )
    return run.returncode, json.loads(run.stdout or "{}")


def _public_pem(private_pem: str) -> str:
    private = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def test_layer_identity_token_verifies_with_pyjwt_and_jose(
    client, tenant_a, configure, keys, rsa_pem, other_rsa_pem
):
    """Layer's identity token format: header typ JWS, cty layer-eit;v=1, kid = key id; claims
    iss = provider id, prn = user, iat, exp, nce = the request's nonce. Verifies with the
    configured key (PyJWT, jose) and not with another key."""
    settings, _ = default_values("layer", keys)
    configure(tenant_a, "layer")
    response = delegate(client, tenant_a, api_type="layer", nonce="c2VydmVyLW5vbmNl")
    assert response.status_code == 200, response.content
    token = response.json()["id_token"]

    header = jwt.get_unverified_header(token)
    assert header == {
        "alg": "RS256",
        "typ": "JWS",
        "cty": "layer-eit;v=1",
        "kid": settings["key_id"],
    }
    claims = jwt.decode(
        token, _public_pem(rsa_pem), algorithms=["RS256"], issuer=settings["provider_id"]
    )
    assert set(claims) == {"iss", "prn", "iat", "exp", "nce"}
    assert claims["prn"] == tenant_a["user"].user_id and claims["nce"] == "c2VydmVyLW5vbmNl"
    assert claims["exp"] - claims["iat"] == 600 == response.json()["expires_in"]
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, _public_pem(other_rsa_pem), algorithms=["RS256"])

    code, verified = jose_verify(
        {
            "kind": "layer",
            "token": token,
            "publicKeyPem": _public_pem(rsa_pem),
            "issuer": settings["provider_id"],
        }
    )
    assert code == 0, verified
    assert verified == {"header": header, "payload": claims}
    code, refused = jose_verify(
        {
            "kind": "layer",
            "token": token,
            "publicKeyPem": _public_pem(other_rsa_pem),
            "issuer": settings["provider_id"],
        }
    )
    assert (code, refused) == (1, {"error": "ERR_JWS_SIGNATURE_VERIFICATION_FAILED"})


def test_wams_token_verifies_with_pyjwt_and_jose(client, tenant_a, configure, keys):
    """The Mobile Services token: header kid "0", claims exp, iss zumo, ver 2, aud Custom, uid;
    HMAC key SHA-256(master key + "JWTSig"), derived independently in Node by the jose script;
    a token checked with another master key fails."""
    configure(tenant_a, "wams", uid_attribute="email", lifetime_in_seconds=900)
    response = delegate(client, tenant_a, api_type="wams")
    assert response.status_code == 200, response.content
    token = response.json()["id_token"]
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "HS256", "typ": "JWT", "kid": "0"}
    key = hashlib.sha256((keys["wams_master_key"] + "JWTSig").encode()).digest()
    claims = jwt.decode(
        token,
        key,
        algorithms=["HS256"],
        issuer="urn:microsoft:windows-azure:zumo",
        audience="Custom",
    )
    assert set(claims) == {"exp", "iss", "ver", "aud", "uid"}
    assert claims["uid"] == tenant_a["user"].email and claims["ver"] == 2
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, keys["wams_master_key"].encode(), algorithms=["HS256"], audience="Custom")

    issuer = "urn:microsoft:windows-azure:zumo"
    code, verified = jose_verify(
        {"kind": "wams", "token": token, "masterKey": keys["wams_master_key"], "issuer": issuer}
    )
    assert code == 0, verified
    assert verified == {"header": header, "payload": claims}
    code, refused = jose_verify(
        {"kind": "wams", "token": token, "masterKey": "x" * 40, "issuer": issuer}
    )
    assert (code, refused) == (1, {"error": "ERR_JWS_SIGNATURE_VERIFICATION_FAILED"})
