"""One minter per add-on: what ``/delegation`` issues for its ``api_type`` (SPEC section 5).

``base.AddonMinter`` carries what they share (readiness, the free-form parameter rule, the
parsed-key cache); each module builds its service's credential and nothing else.
"""
