"""SAML 2.0 assertions signed with the tenant's key, for the add-ons that trade one (AWS, SAP).

``assertion`` builds a SAML 2.0 Assertion (OASIS SAML 2.0 Core section 2.3.3) naming the user
in its ``NameID``, with a bearer ``SubjectConfirmation`` for one ``Recipient``, an
``AudienceRestriction``, an ``AuthnStatement`` and optional attributes; ``sign`` adds an
enveloped XML signature (RSA-SHA256, SHA-256 digest, exclusive canonicalisation) made with
the tenant's active RS256 key, carrying the tenant's signing certificate
(``tenantauth.certificates``) in ``KeyInfo`` so a provider can match it with the one the admin
uploaded. ``response`` wraps a signed assertion in a ``samlp:Response`` (Core section 3.3.3),
what AWS's SAML endpoint consumes. signxml signs; lxml builds the tree.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lxml import etree
from signxml import CanonicalizationMethod, DigestAlgorithm, SignatureMethod, XMLSigner

from tenantauth import certificates, signing
from tenantauth.models import Tenant

SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
DS = "http://www.w3.org/2000/09/xmldsig#"
XS = "http://www.w3.org/2001/XMLSchema"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
AUTHN_CONTEXT_UNSPECIFIED = "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified"
ATTRNAME_FORMAT_URI = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
NAMEID_FORMATS = {
    "unspecified": "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
    "emailAddress": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
    "persistent": "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
    "transient": "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
}
# Clock skew allowed to the provider before NotBefore.
NOT_BEFORE_SKEW = timedelta(seconds=30)


def _q(namespace: str, name: str) -> str:
    return f"{{{namespace}}}{name}"


def saml_time(moment: datetime) -> str:
    """xs:dateTime in UTC with a ``Z``, as SAML Core section 1.3.3 asks."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_id() -> str:
    """An xs:ID (must not start with a digit): ``_`` and 32 hex digits."""
    return "_" + uuid.uuid4().hex


@dataclass(frozen=True)
class Signed:
    """A signed element, its ``ID`` and when it stops being valid."""

    element: etree._Element
    id: str
    not_on_or_after: datetime

    def xml(self) -> bytes:
        return etree.tostring(self.element)


def assertion(
    *,
    issuer: str,
    name_id: str,
    name_id_format: str,
    recipient: str,
    audience: str,
    lifetime: timedelta,
    attributes: dict[str, list[str]] | None = None,
    now: datetime | None = None,
) -> tuple[etree._Element, str, datetime]:
    """An unsigned ``saml:Assertion`` (with a signature placeholder after its ``Issuer``, where
    the schema puts it); returns it, its ``ID`` and its ``NotOnOrAfter``.

    ``name_id_format``: a key of ``NAMEID_FORMATS``; ``attributes``: name -> string values
    (``AttributeStatement``, names in URI format); ``lifetime``: how long the subject
    confirmation and the conditions hold.
    """
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    until = now + lifetime
    assertion_id = new_id()
    root = etree.Element(
        _q(SAML, "Assertion"),
        nsmap={"saml": SAML, "xs": XS, "xsi": XSI},
        ID=assertion_id,
        Version="2.0",
        IssueInstant=saml_time(now),
    )
    etree.SubElement(root, _q(SAML, "Issuer")).text = issuer
    etree.SubElement(root, _q(DS, "Signature"), nsmap={"ds": DS}, Id="placeholder")
    subject = etree.SubElement(root, _q(SAML, "Subject"))
    name = etree.SubElement(subject, _q(SAML, "NameID"), Format=NAMEID_FORMATS[name_id_format])
    name.text = name_id
    confirmation = etree.SubElement(subject, _q(SAML, "SubjectConfirmation"), Method=BEARER)
    etree.SubElement(
        confirmation,
        _q(SAML, "SubjectConfirmationData"),
        NotOnOrAfter=saml_time(until),
        Recipient=recipient,
    )
    conditions = etree.SubElement(
        root,
        _q(SAML, "Conditions"),
        NotBefore=saml_time(now - NOT_BEFORE_SKEW),
        NotOnOrAfter=saml_time(until),
    )
    restriction = etree.SubElement(conditions, _q(SAML, "AudienceRestriction"))
    etree.SubElement(restriction, _q(SAML, "Audience")).text = audience
    authn = etree.SubElement(
        root, _q(SAML, "AuthnStatement"), AuthnInstant=saml_time(now), SessionIndex=assertion_id
    )
    context = etree.SubElement(authn, _q(SAML, "AuthnContext"))
    etree.SubElement(context, _q(SAML, "AuthnContextClassRef")).text = AUTHN_CONTEXT_UNSPECIFIED
    if attributes:
        statement = etree.SubElement(root, _q(SAML, "AttributeStatement"))
        for attribute_name, values in attributes.items():
            attribute = etree.SubElement(
                statement,
                _q(SAML, "Attribute"),
                Name=attribute_name,
                NameFormat=ATTRNAME_FORMAT_URI,
            )
            for value in values:
                item = etree.SubElement(attribute, _q(SAML, "AttributeValue"))
                item.set(_q(XSI, "type"), "xs:string")
                item.text = value
    return root, assertion_id, until


def sign(element: etree._Element, *, tenant: Tenant, element_id: str) -> etree._Element:
    """``element`` with an enveloped signature (RSA-SHA256, exclusive c14n) by the tenant's
    active key, its certificate in ``KeyInfo``. Raises ``signing.KeyUnavailableError`` when the
    tenant has no usable active key."""
    key = tenant.active_signing_key
    if key is None:
        raise signing.KeyUnavailableError("tenant has no active signing key")
    certificate = certificates.signing_certificate(tenant=tenant, key=key)
    signer = XMLSigner(
        signature_algorithm=SignatureMethod.RSA_SHA256,
        digest_algorithm=DigestAlgorithm.SHA256,
        c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )
    signer.namespaces = {"ds": DS}
    return signer.sign(
        element,
        key=signing.rsa_private_key(key),
        cert=certificate.pem,
        reference_uri=element_id,
        id_attribute="ID",
    )


def signed_assertion(*, tenant: Tenant, **fields) -> Signed:
    """``assertion(**fields)`` signed by the tenant (see ``assertion`` and ``sign``)."""
    element, assertion_id, until = assertion(**fields)
    return Signed(sign(element, tenant=tenant, element_id=assertion_id), assertion_id, until)


def response(*, issuer: str, destination: str, signed: Signed) -> bytes:
    """A ``samlp:Response`` with status Success around ``signed`` (the assertion carries the
    signature), serialised with an XML declaration."""
    issued = datetime.now(UTC)
    root = etree.Element(
        _q(SAMLP, "Response"),
        nsmap={"samlp": SAMLP, "saml": SAML},
        ID=new_id(),
        Version="2.0",
        IssueInstant=saml_time(issued),
        Destination=destination,
    )
    etree.SubElement(root, _q(SAML, "Issuer")).text = issuer
    status = etree.SubElement(root, _q(SAMLP, "Status"))
    etree.SubElement(status, _q(SAMLP, "StatusCode"), Value=SUCCESS)
    root.append(signed.element)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
