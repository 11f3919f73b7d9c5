"""Who may do what in the admin: one table, read by every admin page.

Roles: ``admin`` and ``auditor`` are a platform account's membership role in the tenant being
worked on (``Membership.Role``); ``staff`` is platform staff (an active superuser), who works
on every tenant. An account without one of these roles reaches nothing.

``RIGHTS`` maps a model (``app_label.model_name``) to what each role may do with its rows:
``view``, ``add``, ``change``, ``delete``. Pages beyond those four need ``change`` on their
model: revealing or rotating a client secret (application), rotating or importing a signing
key (tenant), resetting a user's password (tenant user). A model missing from the table
allows nothing to anybody, and ``tenantauth.admin``'s system check refuses to start with an
admin page for such a model.

The auditor reads the audit log and what the log needs to be understood, which the log pages
show beside each row (application names next to client IDs, a user's e-mail next to the
``user_id``); nothing else: not users' personal data, keys, memberships or tenant settings.

``markdown_table()`` renders the table for the README; a test checks they are the same.
"""

ADMIN = "admin"
AUDITOR = "auditor"
STAFF = "staff"
ROLES = (ADMIN, AUDITOR, STAFF)
ACTIONS = ("view", "add", "change", "delete")

_ALL = "view add change delete"

# model -> role -> space-separated actions. The only place these rights are decided.
RIGHTS: dict[str, dict[str, str]] = {
    "tenantauth.tenant": {ADMIN: "view change", AUDITOR: "", STAFF: _ALL},
    "tenantauth.membership": {ADMIN: _ALL, AUDITOR: "", STAFF: _ALL},
    "tenantauth.application": {ADMIN: _ALL, AUDITOR: "", STAFF: _ALL},
    "tenantauth.connection": {ADMIN: _ALL, AUDITOR: "", STAFF: _ALL},
    "tenantauth.tenantuser": {ADMIN: _ALL, AUDITOR: "", STAFF: _ALL},
    "tenantauth.signingkey": {ADMIN: "view", AUDITOR: "", STAFF: "view"},
    "delegation.auditevent": {ADMIN: "view", AUDITOR: "view", STAFF: "view"},
    # No delete: an add-on is switched off; its row goes with its application.
    "addons.addonconfiguration": {ADMIN: "view add change", AUDITOR: "", STAFF: "view add change"},
    # Platform accounts and groups span tenants: platform staff only.
    "auth.user": {ADMIN: "", AUDITOR: "", STAFF: _ALL},
    "auth.group": {ADMIN: "", AUDITOR: "", STAFF: _ALL},
}


def allowed(role: str | None, model: str, action: str) -> bool:
    """Whether ``role`` may ``action`` rows of ``model`` (``app_label.model_name``).

    Unknown roles, models and actions are refused (default deny).
    """
    if role not in ROLES or action not in ACTIONS:
        return False
    return action in RIGHTS.get(model, {}).get(role, "").split()


def any_allowed(role: str | None, model: str) -> bool:
    """Whether ``role`` may do anything with ``model`` (the admin index lists it then)."""
    return any(allowed(role, model, action) for action in ACTIONS)


def markdown_table() -> str:
    """The rights as a Markdown table (one row per model, one column per role)."""
    lines = [
        "| Model | admin | auditor | platform staff |",
        "|---|---|---|---|",
    ]
    for model, rights in RIGHTS.items():
        cells = [", ".join(rights[role].split()) or "-" for role in ROLES]
        lines.append(f"| `{model}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)
