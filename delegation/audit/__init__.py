"""The audit console's back end: selectors, export, sealing (RFC 6962), partitions.

The console itself (views) is ``delegation.admin.AuditEventAdmin``; commands are
``audit_seal``, ``audit_verify``, ``audit_retention`` and ``audit_partitions``.
"""
