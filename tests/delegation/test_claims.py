"""SECURITY-CASES D31 for verified claims, and the claims rule (issue 14): a control character
in a claim of a *validly signed* token (``sub``, ``azp``, a passthrough claim, nested or not)
is 400 ``invalid_grant``, never a 500; and no claim copied into an issued token (passthrough,
scope attributes, add-on claims) can carry one: ``tenantauth.text.copied_claims_check``, the
one rule every minter applies, refuses it.
"""

import jwt
import pytest

from delegation import minters
from delegation.models import AuditEvent
from tenantauth import text
from tenantauth.models import TenantUser
from tests.addons.conftest import configure as configure  # noqa: F401 - fixtures
from tests.addons.conftest import keys as keys  # noqa: F401
from tests.addons.conftest import rsa_pem as rsa_pem  # noqa: F401
from tests.delegation.helpers import assert_error, delegate, id_token_for
from tests.tenantauth.oidc_support import password_grant

# CR, LF, NUL and ESC (the issue's), and the rest of the kinds the rule covers.
CONTROLS = ["\r", "\n", "\x00", "\x1b", "\t", "\x7f", "\x85", "\u2028", "\ud800"]


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "auth0|abc\x00def"},
        {"sub": "auth0|abc\r\ninjected"},
        {"azp": "client\x1b[31m"},
        {"nickname": "ada\u2028"},
        {"custom": {"nested": ["ok", "bad\x00"]}},
        {"custom\x00key": "value"},
        {"groups": ["a", "b\ud800"]},
    ],
    ids=["sub-NUL", "sub-CRLF", "azp-ESC", "claim-U+2028", "nested", "claim-name", "surrogate"],
)
@pytest.mark.parametrize("scope", ["openid", "openid passthrough"])
def test_d31_control_character_in_a_verified_claim_is_invalid_grant(
    client, tenant_a, audit, claims, scope
):
    """A validly signed id_token with a control character in any claim: 400 invalid_grant (the
    issue: NUL in ``sub`` gave a 500), no token issued, one fd audit row with the reason."""
    token = id_token_for(tenant_a["tenant"], tenant_a["appA"], tenant_a["user"], **claims)
    response = delegate(client, tenant_a, token=token, scope=scope)
    assert_error(response, 400, "invalid_grant")
    (row,) = audit()
    assert row.type == "fd" and row.reason == "control character in a claim"
    assert not AuditEvent.objects.filter(type="sd").exists()


@pytest.mark.parametrize("char", CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
def test_claims_rule_refuses_passthrough_claims_at_the_minter(tenant_a, char):
    """The minter itself (not only the token check before it) refuses to copy a passthrough
    claim holding a control character into the token it signs."""
    request = minters.MintRequest(
        tenant=tenant_a["tenant"],
        source=tenant_a["appA"],
        target=tenant_a["apiC"],
        user=tenant_a["user"],
        scope=["openid", "passthrough"],
        incoming_claims={"department": f"sales{char}ops"},
    )
    with pytest.raises(text.ControlCharacterError):
        minters.AppMinter().mint(request=request)
    clean = minters.AppMinter().mint(
        request=minters.MintRequest(**{**request.__dict__, "incoming_claims": {"d": "ok"}})
    )
    claims = jwt.decode(clean.credential, options={"verify_signature": False})
    assert claims["d"] == "ok"


@pytest.mark.parametrize(
    "char", ["\r", "\n", "\x1b", "\x7f", "\u2028"], ids=["CR", "LF", "ESC", "DEL", "LSEP"]
)
def test_claims_rule_refuses_a_stored_attribute_granted_by_scope(client, tenant_a, audit, char):
    """A user attribute stored before the rule existed (written past the model checks) and
    asked for by ``scope``: 400 invalid_request "A claim cannot be issued.", no token, an fd
    row. Without that scope value the same user is served. (NUL is not among them: PostgreSQL
    cannot store it in text at all; the minter test above covers it.)"""
    user = tenant_a["user"]
    TenantUser.objects.filter(pk=user.pk).update(name=f"Ada{char}Lovelace")
    refused = delegate(client, tenant_a, scope="openid name")
    body = assert_error(refused, 400, "invalid_request")
    assert body["error_description"] == "A claim cannot be issued."
    assert [row.reason for row in audit()] == ["control character in a copied claim"]
    assert delegate(client, tenant_a, scope="openid email").status_code == 200


def test_claims_rule_applies_to_sign_in_tokens_too(client, tenant_a):
    """The sign-in endpoint copies the same attributes into id_tokens and userinfo: a stored
    control character there is refused by the same rule (400), never signed."""
    user = tenant_a["user"]
    TenantUser.objects.filter(pk=user.pk).update(nickname="ada\x1b[2J")
    response = password_grant(client, tenant_a, scope="openid profile")
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_request",
        "error_description": "A claim cannot be issued.",
    }
    assert password_grant(client, tenant_a, scope="openid email").status_code == 200


def test_claims_rule_on_add_on_claims():
    """Add-on minters build claims from request parameters; the same function refuses a
    control character anywhere in them (names, values, lists, nested objects)."""
    assert text.copied_claims_check({"uid": "u1", "claims": {"tier": "gold"}}) == {
        "uid": "u1",
        "claims": {"tier": "gold"},
    }
    for bad in [
        {"uid": "u1\x00"},
        {"claims": {"tier\n": "gold"}},
        {"claims": {"roles": ["a", "b\x1b"]}},
        {"containerName": "c\u2029"},
    ]:
        with pytest.raises(text.ControlCharacterError):
            text.copied_claims_check(bad)


# --- one test per copying path, each kind of control character (issue 14) -------------------
# Stored attributes: NUL is left out (PostgreSQL cannot store it in text or jsonb at all; the
# minter test above covers it for passthrough claims).
STORED_CONTROLS = {"CR": "\r", "LF": "\n", "ESC": "\x1b", "DEL": "\x7f", "C1-NEL": "\x85"}
STORED_CONTROLS["C1-CSI"] = "\x9b"


@pytest.mark.parametrize("char", list(STORED_CONTROLS.values()), ids=list(STORED_CONTROLS))
@pytest.mark.parametrize(
    "path", ["scope attribute", "add-on claim (firebase)", "add-on identifier (wams)"]
)
def test_every_copying_path_refuses_every_control_character(
    client,
    tenant_a,
    audit,
    configure,  # noqa: F811
    path,
    char,
):
    """A stored user attribute holding the character, copied into an issued credential by
    ``scope`` (app token), by an add-on's claims (Firebase ``claims``) or as an add-on's user
    identifier (WAMS ``uid``): 400 invalid_request, nothing issued, an fd row; the same user
    with a clean attribute is served."""
    user = tenant_a["user"]
    if path == "scope attribute":
        params = {"scope": "openid nickname"}
    elif path == "add-on claim (firebase)":
        configure(tenant_a, "firebase", claims_attributes=["nickname"])
        params = {"api_type": "firebase"}
    else:
        configure(tenant_a, "wams", uid_attribute="nickname")
        params = {"api_type": "wams"}
    TenantUser.objects.filter(pk=user.pk).update(nickname=f"ada{char}lovelace")
    refused = delegate(client, tenant_a, **params)
    body = assert_error(refused, 400, "invalid_request")
    assert body["error_description"] == "A claim cannot be issued."
    assert [(r.type, r.reason) for r in audit()] == [("fd", "control character in a copied claim")]
    TenantUser.objects.filter(pk=user.pk).update(nickname="ada lovelace")
    assert delegate(client, tenant_a, **params).status_code == 200
