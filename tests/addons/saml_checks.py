"""Independent checks of our SAML signatures: Debian's ``xmlsec1`` and pysaml2.

Both trust only the tenant's signing certificate (the PEM an admin downloads and uploads to
the provider), never whatever certificate the document carries.
"""

import shutil
import subprocess
from pathlib import Path

import pytest
from saml2 import saml
from saml2.sigver import CryptoBackendXmlSec1, SecurityContext, SignatureError

from tenantauth import certificates

ASSERTION_NODE = "urn:oasis:names:tc:SAML:2.0:assertion:Assertion"


def xmlsec1() -> str:
    path = shutil.which("xmlsec1")
    if not path:
        pytest.fail("xmlsec1 is missing: install Debian's xmlsec1 (.ci/run does)")
    return path


def tenant_certificate(tenant, tmp_path: Path) -> Path:
    pem = certificates.signing_certificate(tenant=tenant, key=tenant.active_signing_key).pem
    path = tmp_path / "tenant-cert.pem"
    path.write_text(pem)
    return path


def xmlsec1_verify(
    document: bytes, certificate: Path, tmp_path: Path
) -> subprocess.CompletedProcess:
    """``xmlsec1 --verify`` of the Assertion's signature with the tenant certificate as the
    only trusted one; returncode 0 = verified."""
    path = tmp_path / "document.xml"
    path.write_bytes(document)
    return subprocess.run(
        [
            xmlsec1(),
            "--verify",
            "--id-attr:ID",
            ASSERTION_NODE,
            "--trusted-pem",
            str(certificate),
            "--pubkey-cert-pem",
            str(certificate),
            "--enabled-key-data",
            "key-name",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )


def pysaml2_verify(assertion_xml: bytes, certificate: Path) -> saml.Assertion:
    """pysaml2's own signature check of a ``saml:Assertion`` with the tenant certificate;
    returns the parsed (schema-typed) assertion, raises ``SignatureError`` when it fails."""
    context = SecurityContext(CryptoBackendXmlSec1(xmlsec1()), cert_file=str(certificate))
    verified = context.verify_signature(
        assertion_xml.decode(),
        cert_file=str(certificate),
        cert_type="pem",
        node_name=ASSERTION_NODE,
    )
    if not verified:
        raise SignatureError("not verified")
    return saml.assertion_from_string(assertion_xml.decode())
