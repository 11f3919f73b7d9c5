"""The add-ons this project signs for, one spec each, in the documented default order.

A spec ties an ``api_type`` to Auth0's display name, its configuration form (``addons.forms``)
and its minter (``addons.minters.<addon>``). ``AddonsConfig.ready()`` registers every minter in
``delegation.minters`` and installs the default-``api_type`` rule
(``addons.selectors.default_api_type``). ``SPECS`` follows ``delegation.minters.
ADDON_API_TYPES``, the order that rule uses.
"""

from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured

from addons import forms
from addons.minters.aws import AwsMinter
from addons.minters.azure_blob import AzureBlobMinter
from addons.minters.azure_sb import AzureServiceBusMinter
from addons.minters.base import AddonMinter
from addons.minters.firebase import FirebaseMinter
from addons.minters.layer import LayerMinter
from addons.minters.salesforce import SalesforceMinter, SalesforceSandboxMinter
from addons.minters.sap import SapMinter
from addons.minters.wams import WamsMinter
from delegation import minters


@dataclass(frozen=True)
class AddonSpec:
    api_type: str
    display_name: str
    form_class: type[forms.AddonForm]
    minter: AddonMinter


_ALL = [
    AddonSpec("firebase", "Firebase", forms.FirebaseForm, FirebaseMinter()),
    AddonSpec("azure_blob", "Azure Blob Storage", forms.AzureBlobForm, AzureBlobMinter()),
    AddonSpec("azure_sb", "Azure Service Bus", forms.AzureServiceBusForm, AzureServiceBusMinter()),
    AddonSpec("aws", "Amazon Web Services", forms.AwsForm, AwsMinter()),
    AddonSpec("salesforce_api", "Salesforce API", forms.SalesforceForm, SalesforceMinter()),
    AddonSpec(
        "salesforce_sandbox_api",
        "Salesforce Sandbox API",
        forms.SalesforceSandboxForm,
        SalesforceSandboxMinter(),
    ),
    AddonSpec("sap_api", "SAP", forms.SapForm, SapMinter()),
    AddonSpec("layer", "Layer", forms.LayerForm, LayerMinter()),
    AddonSpec("wams", "Windows Azure Mobile Services", forms.WamsForm, WamsMinter()),
]
SPECS: dict[str, AddonSpec] = {
    api_type: spec
    for api_type in minters.ADDON_API_TYPES
    for spec in _ALL
    if spec.api_type == api_type
}
CHOICES = [(api_type, spec.display_name) for api_type, spec in SPECS.items()]


def register_minters() -> None:
    """Register every add-on's minter and the default-api_type rule (idempotent)."""
    from addons import selectors

    for spec in SPECS.values():
        if not spec.form_class.api_type == spec.minter.api_type == spec.api_type:
            raise ImproperlyConfigured(f"add-on spec {spec.api_type} is inconsistent")
        minters.register(spec.api_type, spec.minter)
    minters.register_default_resolver(selectors.default_api_type)
