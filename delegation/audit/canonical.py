"""The canonical bytes of an audit row, hashed into the seals (version 1).

Every column of ``AuditEvent`` is serialised, in this exact form, as one JSON object with
keys sorted, no whitespace, UTF-8, no NaN (RFC 8785-like for the values we store):

- ``id``, ``tenant_id``, ``actor_id``: integers (``actor_id`` may be null);
- ``created_at``, ``expires_at``: UTC ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (microseconds), or null;
- ``client_ip``: the address text as stored, or null;
- ``details``: the JSON value itself (object keys sorted recursively);
- every other column: its string.

A new column needs a new canonical version (old rows would otherwise change their hash).
"""

import json
from datetime import UTC, datetime

from delegation.audit import merkle

COLUMNS = (
    "id",
    "tenant_id",
    "created_at",
    "type",
    "source_client_id",
    "target_client_id",
    "api_type",
    "scope",
    "user_id",
    "jti",
    "token_fingerprint",
    "expires_at",
    "error",
    "reason",
    "client_ip",
    "user_agent",
    "actor_id",
    "object_repr",
    "details",
)
VERSION = 1


def _value(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value


def canonical_bytes(row: dict) -> bytes:
    """The version-1 canonical serialisation of one row given as ``{column: value}``."""
    body = {name: _value(row[name]) for name in COLUMNS}
    return json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def row_leaf_hash(row: dict) -> bytes:
    """RFC 6962 leaf hash of the row's canonical bytes (32 bytes)."""
    return merkle.leaf_hash(canonical_bytes(row))
