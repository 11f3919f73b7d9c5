"""``POST /t/<slug>/delegation``: trade a user's id_token (or refresh token) for a token for
another application of the tenant (or an add-on credential). SPEC.md section 4.

The view walks the validation order of the SPEC, one step after the other:

1. tenant exists and has delegation on (``initial``, before anything else, even the method);
2. request shape (method, content type, size, duplicates, types: ``parsers``);
3. the source application and its legacy delegation grant;
4. the user token (``tokens``) and its user;
5. the target: allow-list, OIDC conformance, add-on readiness (one identical refusal);
6. the rate limit (``ratelimit``);
7. mint and record atomically (``services.delegation_token_issue``).

Every answer, errors included, is JSON with ``Cache-Control: no-store`` and ``Pragma:
no-cache``; every refusal goes through ``handle_exception`` which maps it with the single table
of ``errors.PROBLEMS``, records an ``fd`` audit event when the tenant is known, and logs one
sanitised line (never a token or a secret).
"""

import ipaddress
import logging
import os
import re
import traceback

from django.db import InterfaceError, OperationalError, connection
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from delegation import (
    config_cache,
    minters,
    parsers,
    policy,
    ratelimit,
    selectors,
    services,
    tokens,
)
from delegation.errors import GRANT_NOT_ALLOWED, DelegationError, as_delegation_error
from tenantauth import http
from tenantauth import selectors as tenant_selectors
from tenantauth.models import GRANT_DELEGATION_ID_TOKEN, GRANT_DELEGATION_REFRESH_TOKEN

logger = logging.getLogger("delegation")

_LOG_UNSAFE = re.compile(r"[^A-Za-z0-9._:@|/+-]")
# Refusals that come after the client is known and count against its rate limit.
_COUNTED_FAILURES = frozenset({"invalid_grant", "invalid_target", "invalid_scope"})


def _log_value(value) -> str:
    text = str(value or "")
    return _LOG_UNSAFE.sub("?", text)[:64] or "-"


def _client_ip(request) -> str | None:
    candidate = http.client_ip(request)
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


class _Stale(Exception):
    """The cached configuration a request was being decided on has changed."""


class JSONOnlyNegotiation(DefaultContentNegotiation):
    """Always answer JSON, whatever the Accept header says (never a 406 or an HTML page)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class DelegationApi(APIView):
    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []
    parser_classes = [parsers.StrictJSONParser, parsers.StrictFormParser]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONOnlyNegotiation
    http_method_names = ["post"]

    tenant = None
    context: services.AttemptContext | None = None
    rate_state: ratelimit.RateLimitState | None = None
    client_known = False

    # --- step 1 ------------------------------------------------------------------------
    # The tenant is looked up together with the source and target applications (one query on
    # the success path). Any refusal raised before that lookup (method, shape) first resolves
    # the tenant in ``handle_exception``, so an unknown or disabled tenant still answers 404
    # before anything else, as step 1 demands.
    tenant_checked = False

    def initial(self, request, *args, **kwargs):
        # No health-check round trip (CONN_HEALTH_CHECKS' ``SELECT 1`` before the first
        # statement of each request, +164 us measured): a persistent connection that broke
        # since the last request fails the first statement, ``handle_exception`` answers 503
        # and closes it, and the next request connects anew.
        connection.health_check_done = True
        self.context = services.AttemptContext(
            client_ip=_client_ip(request._request),
            user_agent=services.clean_user_agent(request.META.get("HTTP_USER_AGENT", "")),
        )
        super().initial(request, *args, **kwargs)

    def _tenant_gate(self, tenant) -> None:
        self.tenant_checked = True
        if tenant is None:
            raise DelegationError("not_found", reason="unknown tenant")
        if not tenant.delegation_enabled:
            raise DelegationError("endpoint_disabled", reason="delegation disabled")
        self.tenant = tenant

    # --- steps 2-7 -----------------------------------------------------------------------
    config_entry: config_cache.Entry | None = None
    user_entry: config_cache.UserEntry | None = None

    def post(self, request, tenant_slug: str):
        try:
            return self._delegate(request, tenant_slug, cached=True)
        except Exception as exc:
            entry, user_entry = self.config_entry, self.user_entry
            if entry is None or (
                not isinstance(exc, _Stale) and config_cache.is_current(entry, user_entry)
            ):
                raise
        # Decided on a configuration (or user) that changed since it was cached: decide again
        # from the database. The attempt was counted already (if it got that far); not twice.
        config_cache.discard(entry)
        if user_entry is not None:
            config_cache.user_discard(user_entry)
        self.config_entry = None
        self.user_entry = None
        self.tenant = None
        self.tenant_checked = False
        self.client_known = False
        return self._delegate(request, tenant_slug, cached=False)

    def _delegate(self, request, tenant_slug: str, *, cached: bool):
        context = self.context

        # 2. request shape
        if parsers.media_type_of(request._request) not in (
            parsers.JSON_MEDIA_TYPE,
            parsers.FORM_MEDIA_TYPE,
        ):
            raise DelegationError("unsupported_media_type", reason="unsupported content type")
        parsers.check_content_length(request._request)
        params = parsers.validate_params(request.data)
        context.source_client_id = params.client_id
        context.target_client_id = params.target or params.client_id
        context.scope = params.scope
        context.api_type = params.api_type
        if params.api_type and params.api_type not in minters.KNOWN_API_TYPES:
            raise DelegationError(
                "invalid_request", description="Invalid parameter: api_type.", reason="api_type"
            )

        # 1. (resolved here, see above) and 3. the source application
        wanted = [params.client_id, params.target]
        entry = config_cache.lookup(tenant_slug, wanted) if cached else None
        if entry is not None:
            self.config_entry = entry
            found, apps = entry.tenant, entry.apps
        else:
            labelled = config_cache.label(tenant_slug)
            found, apps = selectors.delegation_parties_get(
                tenant_slug=tenant_slug, client_ids=wanted
            )
            config_cache.store(tenant_slug, wanted, labelled, found, apps)
        self._tenant_gate(found)
        tenant = self.tenant

        # 3. the source application
        source = apps.get(params.client_id)
        # CORS (tenantauth.oidc.cors): only the source's Allowed Web Origins read the answer.
        request._request.cors_application = source
        if source is None:
            raise DelegationError("invalid_client", reason="unknown client")
        grant = GRANT_DELEGATION_ID_TOKEN if params.id_token else GRANT_DELEGATION_REFRESH_TOKEN
        if not source.is_active or not source.has_grant(grant):
            raise DelegationError(
                "unauthorized_client",
                description=GRANT_NOT_ALLOWED.format(grant=grant),
                reason="client inactive" if not source.is_active else "grant missing",
            )
        self.client_known = True

        # 4. the user token
        if params.id_token:
            verified = tokens.id_token_verify(tenant=tenant, source=source, token=params.id_token)
            user = self._live_user(entry, tenant, verified.sub)
            incoming_claims = verified.claims
        else:
            verified = tokens.refresh_token_verify(
                tenant=tenant, source=source, token=params.refresh_token
            )
            user = verified.user
            incoming_claims = {}
        context.user_id = user.user_id

        # 5. the target (one identical answer for every refusal) and the scope
        target = apps.get(params.target) if params.target else source
        decision = policy.delegation_decide(
            tenant=tenant, source=source, target=target, api_type=params.api_type
        )
        if decision.api_type:
            context.api_type = decision.api_type
        if not decision.allowed:
            raise DelegationError("invalid_target", reason=decision.rule)
        api_type = decision.api_type
        scope = minters.scope_values(params.scope)
        if scope is None:
            raise DelegationError("invalid_scope", reason="scope value not offered")

        # 6. rate limit (and, in the same round trip, whether a cached configuration is current)
        if self.rate_state is None:
            self.rate_state = ratelimit.hit(
                tenant=tenant,
                client_id=source.client_id,
                user_id=user.user_id,
                ip=context.client_ip or "-",
                versions=self._versions_to_confirm(entry, tenant),
            )
            if entry is not None and self.rate_state.versions != self._versions_expected(entry):
                raise _Stale
        if self.rate_state.exceeded:
            raise DelegationError("too_many_requests", reason="rate limited")

        # 7. mint and record atomically
        issued = services.delegation_token_issue(
            tenant=tenant,
            source=source,
            target=target,
            user=user,
            api_type=api_type,
            scope=scope,
            incoming_claims=incoming_claims,
            extra=params.extra,
            context=context,
            auth_time=verified.auth_time,
        )
        self._log("sd", error="", reason="")
        return Response(issued.body, status=200)

    def _live_user(self, entry, tenant, user_id: str):
        """The live user (``tokens.live_user_get``); with a configuration entry, the one kept
        under it, or the row read now and kept (confirmed in the rate-limit round trip)."""
        if entry is None:
            return tokens.live_user_get(tenant=tenant, user_id=user_id)
        kept = config_cache.user_lookup(entry, user_id)
        if kept is not None:
            self.user_entry = kept
            return kept.user
        labelled = config_cache.user_label(tenant.pk, user_id)
        user = tokens.live_user_get(tenant=tenant, user_id=user_id)
        self.user_entry = config_cache.user_store(entry, user_id, labelled, user)
        return user

    def _versions_to_confirm(self, entry, tenant) -> tuple[str, ...]:
        if entry is None:
            return ()
        keys = (config_cache.version_key(tenant.pk),)
        if self.user_entry is not None:
            keys += (config_cache.user_version_key(*self.user_entry.key),)
        return keys

    def _versions_expected(self, entry) -> tuple[str, ...]:
        expected = (entry.version,)
        if self.user_entry is not None:
            expected += (self.user_entry.version,)
        return expected

    # --- answers ----------------------------------------------------------------------------
    def handle_exception(self, exc):
        if not self.tenant_checked and not isinstance(exc, (OperationalError, InterfaceError)):
            try:
                self._tenant_gate(tenant_selectors.tenant_get(slug=self.kwargs["tenant_slug"]))
            except (DelegationError, OperationalError, InterfaceError) as gate:
                exc = gate
        error = as_delegation_error(exc)
        database_down = isinstance(exc, (OperationalError, InterfaceError))
        if database_down:
            self._close_broken_connection()
        elif error.problem == "server_error" and not isinstance(exc, DelegationError):
            frames = traceback.extract_tb(exc.__traceback__)
            last = frames[-1] if frames else None
            where = f"{os.path.basename(last.filename)}:{last.lineno}" if last else "?"
            logger.error("delegation unexpected %s at %s", type(exc).__name__, where)

        if self.client_known and self.rate_state is None and error.problem in _COUNTED_FAILURES:
            try:
                self.rate_state = ratelimit.hit(
                    tenant=self.tenant,
                    client_id=self.context.source_client_id,
                    user_id=self.context.user_id,
                    ip=self.context.client_ip or "-",
                )
            except DelegationError:
                self.rate_state = None
            if self.rate_state is not None and self.rate_state.exceeded:
                error = DelegationError("too_many_requests", reason="rate limited")

        # Refusals are audited (fd). A server-side failure (500, 503) leaves no row at all:
        # nothing half-written, only the log line below; a provider's fault (its token
        # service down or slow, ``error.audited``) is the attempt's outcome and is audited.
        if (
            self.tenant is not None
            and self.request is not None
            and self.request.method == "POST"
            and error.audited
        ):
            self._record_failure(error)
        self._log("fd", error=error.error, reason=error.reason)
        return Response(error.body(), status=error.status, headers=error.headers)

    def _record_failure(self, error: DelegationError) -> None:
        try:
            services.delegation_failure_record(
                tenant=self.tenant, context=self.context, error=error.error, reason=error.reason
            )
        except Exception as exc:  # the answer stands; the failure is logged instead
            if isinstance(exc, (OperationalError, InterfaceError)):
                self._close_broken_connection()
            logger.error("delegation audit write failed (%s)", type(exc).__name__)

    @staticmethod
    def _close_broken_connection() -> None:
        # A dead connection must not be reused: close it so the next request reconnects (and
        # service resumes by itself once the database is back). Inside an outer transaction
        # (tests) the owner of that transaction decides.
        try:
            if not connection.in_atomic_block:
                connection.close()
        except Exception:  # closing an already broken connection may fail too
            logger.warning("delegation: closing a broken database connection failed")

    def perform_authentication(self, request):
        # No authentication classes: the client authenticates with the id_token it presents.
        # DRF's default would build an AnonymousUser on every request; skipping it leaves
        # ``request.user`` lazy (DRF's documented way), and nothing here reads it.
        pass

    def _log(self, outcome: str, *, error: str, reason: str) -> None:
        if not logger.isEnabledFor(logging.INFO):
            return  # the values below are not even computed
        context = self.context or services.AttemptContext()
        logger.info(
            "delegation %s tenant=%s client=%s target=%s api_type=%s user=%s error=%s "
            "reason=%s ip=%s",
            outcome,
            _log_value(self.kwargs.get("tenant_slug") if self.kwargs else ""),
            _log_value(context.source_client_id),
            _log_value(context.target_client_id),
            _log_value(context.api_type),
            _log_value(context.user_id),
            _log_value(error),
            _log_value(reason.replace(" ", "_")),
            _log_value(context.client_ip),
        )

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        response["Pragma"] = "no-cache"
        response["Allow"] = "POST"
        state = self.rate_state
        if state is None:
            context = self.context or services.AttemptContext()
            state = ratelimit.peek(
                tenant=self.tenant,
                client_id=context.source_client_id if self.client_known else "",
                user_id=context.user_id,
                ip=context.client_ip or "-",
            )
        for name, value in state.headers().items():
            response[name] = value
        return response
