"""``POST /delegation`` for each add-on api_type: success with its audit row, the one
``invalid_target`` answer when the add-on is off or missing (the rule in the fd row), refused
free-form parameters (nothing issued), the default api_type rule, and tenant isolation."""

import hashlib
import time
from urllib.parse import parse_qs

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from django.core.exceptions import ValidationError

from addons import selectors, services
from addons.minters.firebase import FIREBASE_AUDIENCE
from delegation import minters, policy
from delegation.rules import Rule
from tenantauth import crypto
from tests.addons.conftest import ADDONS
from tests.delegation.helpers import assert_error, delegate

IDENTICAL_REFUSAL = {"error": "invalid_target", "error_description": "Invalid target."}


def _public(pem):
    return serialization.load_pem_private_key(pem.encode(), password=None).public_key()


def _check_credential(addon, body, setup, keys):
    """The credential verifies with the configured key and names the user; returns
    ``(credential, expected expires_in or None)``."""
    user = setup["user"]
    if addon == "azure_blob":
        assert set(body) == {"azure_blob_sas"}
        query = parse_qs(body["azure_blob_sas"], strict_parsing=True)
        assert query["sr"] == ["b"] and query["sp"] == ["rw"] and query["spr"] == ["https"]
        assert query["sv"][0] >= "2020-12-06"
        return body["azure_blob_sas"], None
    if addon == "azure_sb":
        assert set(body) == {"azure_sb_sas"}
        sas = body["azure_sb_sas"]
        assert sas.startswith("SharedAccessSignature sr=https%3A%2F%2Ftenantauth-demo.")
        assert sas.endswith("&skn=RootManageSharedAccessKey")
        return sas, None
    assert set(body) == {"id_token", "token_type", "expires_in"}
    token = body["id_token"]
    if addon == "firebase":
        claims = jwt.decode(
            token, _public(keys["rsa_pem"]), algorithms=["RS256"], audience=FIREBASE_AUDIENCE
        )
        assert claims["uid"] == user.user_id
        assert claims["iss"] == claims["sub"] == "tenantauth@demo-i8.iam.gserviceaccount.com"
        assert jwt.get_unverified_header(token)["kid"] == "0f" * 20
    elif addon == "layer":
        claims = jwt.decode(token, _public(keys["rsa_pem"]), algorithms=["RS256"])
        assert claims["prn"] == user.user_id and claims["nce"] == "layer-nonce-1"
    else:
        key = hashlib.sha256((keys["wams_master_key"] + "JWTSig").encode()).digest()
        claims = jwt.decode(
            token,
            key,
            algorithms=["HS256"],
            issuer="urn:microsoft:windows-azure:zumo",
            audience="Custom",
        )
        assert claims["uid"] == user.user_id and claims["ver"] == 2
    assert abs(claims["exp"] - time.time() - body["expires_in"]) < 5
    return token, body["expires_in"]


def _params(addon):
    return {"nonce": "layer-nonce-1"} if addon == "layer" else {}


@pytest.mark.parametrize("addon", ADDONS)
def test_addon_success_issues_credential_with_its_audit_row(
    client, tenant_a, audit, configure, keys, addon
):
    """appA asks for apiC's add-on: 200 with no-store headers and the add-on's credential,
    which verifies with the configured key; exactly one sd row names the add-on and carries a
    jti and the credential's SHA-256 fingerprint, never the credential."""
    configure(tenant_a, addon)
    response = delegate(client, tenant_a, api_type=addon, **_params(addon))
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store" and response["Pragma"] == "no-cache"
    assert response["Content-Type"] == "application/json"
    credential, expires_in = _check_credential(addon, response.json(), tenant_a, keys)
    (row,) = audit()
    assert (row.type, row.api_type, row.error) == ("sd", addon, "")
    assert row.token_fingerprint == crypto.fingerprint(credential)
    assert len(row.jti) == 32 and row.user_id == tenant_a["user"].user_id
    assert row.target_client_id == tenant_a["apiC"].client_id
    assert row.expires_at is not None
    if expires_in is not None:
        assert abs(row.expires_at.timestamp() - row.created_at.timestamp() - expires_in) < 5
    stored = type(row).objects.filter(pk=row.pk).values()[0]
    assert not any(credential in str(value) for value in stored.values())


@pytest.mark.parametrize("addon", ADDONS)
@pytest.mark.parametrize(
    ("state", "rule"),
    [("disabled", Rule.ADDON_DISABLED), ("missing", Rule.ADDON_NOT_CONFIGURED)],
)
def test_addon_off_or_missing_is_the_one_invalid_target(
    client, tenant_a, audit, configure, addon, state, rule
):
    """An add-on switched off, or never configured, on the target: the identical
    invalid_target body of every target refusal; the fd row records the rule; the policy
    function reaches the same decision."""
    if state == "disabled":
        configure(tenant_a, addon, enabled=False)
    else:  # another add-on is configured, this one is not
        configure(tenant_a, "wams" if addon != "wams" else "firebase")
    response = delegate(client, tenant_a, api_type=addon, **_params(addon))
    assert_error(response, 400, "invalid_target")
    assert response.json() == IDENTICAL_REFUSAL
    (row,) = audit()
    assert (row.type, row.error, row.reason, row.api_type) == ("fd", "invalid_target", rule, addon)
    decision = policy.delegation_decide(
        tenant=tenant_a["tenant"],
        source=tenant_a["appA"],
        target=type(tenant_a["apiC"]).objects.get(pk=tenant_a["apiC"].pk),
        api_type=addon,
    )
    assert (decision.allowed, decision.rule) == (False, rule)


def test_not_allowed_source_is_refused_before_the_addon(client, tenant_a, audit, configure):
    """The allow-list still decides for add-ons: appB removed from apiC's list cannot get its
    Firebase token (not_in_allowlist), while appA can."""
    from tenantauth import services as tenant_services

    configure(tenant_a, "firebase")
    tenant_services.application_update(
        application=tenant_a["apiC"], allowed_clients=[tenant_a["appA"].client_id]
    )
    refused = delegate(client, tenant_a, source=tenant_a["appB"], api_type="firebase")
    assert refused.json() == IDENTICAL_REFUSAL
    assert delegate(client, tenant_a, api_type="firebase").status_code == 200
    assert [r.reason for r in audit()] == [Rule.NOT_LISTED, ""]


# --- free-form parameters -----------------------------------------------------------------
REFUSED_PARAMS = [
    ("firebase", {"uid": "admin"}),
    ("firebase", {"claims": "x"}),
    ("firebase", {"exp": 9999999999}),
    ("azure_blob", {"blobName": "other.txt"}),
    ("azure_blob", {"containerName": "other"}),
    ("azure_blob", {"sp": "racwdl"}),
    ("azure_sb", {"entity_path": "other"}),
    ("azure_sb", {"se": "9999999999"}),
    ("layer", {"nonce": "n", "prn": "someone-else"}),
    ("layer", {}),  # the nonce is required
    ("wams", {"uid": "Facebook:1"}),
    ("wams", {"aud": "Facebook"}),
]


@pytest.mark.parametrize(("addon", "params"), REFUSED_PARAMS)
def test_reserved_claim_or_unallowed_override_is_refused(
    client, tenant_a, audit, configure, addon, params
):
    """A free-form parameter the add-on does not accept (a reserved claim, an override the
    admin did not allow, Layer without its nonce): 400 invalid_request, nothing issued, one fd
    row and no sd row."""
    configure(tenant_a, addon)
    response = delegate(client, tenant_a, api_type=addon, **params)
    assert_error(response, 400, "invalid_request")
    rows = audit()
    assert [(r.type, r.error, r.api_type) for r in rows] == [("fd", "invalid_request", addon)]


def test_blob_overrides_only_as_the_admin_allows(client, tenant_a, audit, configure):
    """blobName is accepted once allowed (a blob of the configured container), containerName
    only when any container is allowed; names outside Azure's rules are refused."""
    configure(tenant_a, "azure_blob", blob_name="", allow_blob_name_override=True)

    def sas(**params):
        response = delegate(client, tenant_a, api_type="azure_blob", **params)
        return response.status_code, response.json()

    status, body = sas(blobName="folder/photo.png")
    assert status == 200
    query = parse_qs(body["azure_blob_sas"])
    assert query["sr"] == ["b"] and query["sp"] == ["rw"]
    status, body = sas()
    assert status == 200 and parse_qs(body["azure_blob_sas"])["sr"] == ["c"]
    assert sas(containerName="other")[0] == 400
    assert sas(blobName="../secrets.txt")[0] == 400
    assert sas(blobName="a//b")[0] == 400

    configure(
        tenant_a,
        "azure_blob",
        blob_name="",
        allow_blob_name_override=True,
        allow_container_name_override=True,
    )
    assert sas(containerName="other", blobName="x.txt")[0] == 200
    assert sas(containerName="Not_Valid")[0] == 400
    assert [r.type for r in audit()] == ["sd", "sd", "fd", "fd", "fd", "sd", "fd"]


def test_user_attribute_with_control_character_is_refused(client, tenant_a, audit, configure):
    """A user attribute copied into a credential goes through the claims rule: a control
    character in it refuses the request (400 invalid_request), nothing is issued."""
    from tenantauth.models import TenantUser

    configure(tenant_a, "firebase", claims_attributes=["name"])
    TenantUser.objects.filter(pk=tenant_a["user"].pk).update(name="Ada\u2028User")
    response = delegate(client, tenant_a, api_type="firebase")
    assert_error(response, 400, "invalid_request")
    assert [r.type for r in audit()] == ["fd"]


# --- the default api_type -------------------------------------------------------------------
def test_default_api_type_is_first_enabled_addon_else_app(client, tenant_a, audit, configure):
    """api_type omitted: the target's first enabled add-on in the documented order
    (minters.ADDON_API_TYPES), else app. Disabled add-ons do not count."""
    assert delegate(client, tenant_a).json().keys() == {"id_token", "token_type", "expires_in"}
    configure(tenant_a, "wams")
    configure(tenant_a, "azure_sb")
    configure(tenant_a, "azure_blob", enabled=False)
    assert "azure_sb_sas" in delegate(client, tenant_a).json()
    configure(tenant_a, "azure_blob")
    assert "azure_blob_sas" in delegate(client, tenant_a).json()
    assert delegate(client, tenant_a, api_type="app").status_code == 200
    assert delegate(client, tenant_a, api_type="auth0").status_code == 200
    assert [r.api_type for r in audit()] == ["app", "azure_sb", "azure_blob", "app", "app"]
    order = [t for t in minters.ADDON_API_TYPES if t in ADDONS]
    assert order == ["firebase", "azure_blob", "azure_sb", "layer", "wams"]


def test_default_resolver_uses_the_parties_flag(tenant_a, configure, django_assert_num_queries):
    """The parties query marks each application with has_enabled_addon; a target without one
    needs no query to resolve the default api_type."""
    from delegation import selectors as delegation_selectors

    configure(tenant_a, "wams", target=tenant_a["appB"])
    _, apps = delegation_selectors.delegation_parties_get(
        tenant_slug="tenant-a", client_ids=[tenant_a["apiC"].client_id, tenant_a["appB"].client_id]
    )
    api_c, app_b = apps[tenant_a["apiC"].client_id], apps[tenant_a["appB"].client_id]
    assert (api_c.has_enabled_addon, app_b.has_enabled_addon) == (False, True)
    with django_assert_num_queries(0):
        assert selectors.default_api_type(tenant=api_c.tenant, target=api_c) is None
    with django_assert_num_queries(1):
        assert selectors.default_api_type(tenant=app_b.tenant, target=app_b) == "wams"


# --- tenant isolation -------------------------------------------------------------------------
def test_other_tenants_addon_is_never_used(client, tenant_a, tenant_b, audit, configure):
    """Tenant B's Firebase configuration of its apiC is never used for tenant A's apiC: A's
    request is refused (addon_not_configured) and A's default stays app; a configuration is
    never saved for another tenant's application."""
    configure(tenant_b, "firebase")
    response = delegate(client, tenant_a, api_type="firebase")
    assert response.json() == IDENTICAL_REFUSAL
    assert audit()[0].reason == Rule.ADDON_NOT_CONFIGURED
    assert "id_token" in delegate(client, tenant_a).json()
    assert audit()[1].api_type == "app"
    # B's configuration works for B.
    assert delegate(client, tenant_b, api_type="firebase").status_code == 200
    with pytest.raises(ValidationError):
        services.addon_configure(
            tenant=tenant_a["tenant"],
            application=tenant_b["apiC"],
            addon="wams",
            enabled=True,
            settings={"uid_attribute": "user_id", "lifetime_in_seconds": 60},
            secrets={"master_key": "m" * 40},
        )
    assert not selectors.addon_configuration_list(tenant=tenant_a["tenant"]).exists()


def test_model_layer_refuses_cross_tenant_application(tenant_a, tenant_b, configure):
    """A13: AddonConfiguration.clean() refuses a row whose application is another tenant's,
    whoever builds it."""
    config = configure(tenant_a, "wams")
    config.application = tenant_b["apiC"]
    with pytest.raises(ValidationError) as excinfo:
        config.full_clean()
    assert "application" in excinfo.value.message_dict
