"""The debtor rules of mappings.md step 3, as pure functions (no HTTP): who is the debtor of a WooCommerce record.

The lookup node (:mod:`nodes.lookups.asperion_debtor`) and the debtor target (:mod:`nodes.targets.asperion_debtor`)
both use these, so "company vs person", classification and "what would an update change" are decided in one place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from nodes.accounting import DEFAULT_VAT_NUMBER_KEYS, region_of
from nodes.accounting import vat_number as _meta_vat_number
from nodes.base import NeedsMapping, RecordFailed
from nodes.paths import get_value

__all__ = (
    "DEFAULT_CLASSIFICATION",
    "DEFAULT_VAT_META_KEYS",
    "UPDATABLE_FIELDS",
    "DebtorRules",
    "Decision",
    "classification_key",
    "debtor_changes",
    "debtor_payload",
    "decide",
    "is_guest",
    "match_value",
    "needs_search",
    "normalize_email",
    "region",
    "vat_number",
)

DEFAULT_VAT_META_KEYS = DEFAULT_VAT_NUMBER_KEYS

DEFAULT_CLASSIFICATION = {
    "business:domestic": "B2B-NL",
    "business:eu": "B2B-EU",
    "business:world": "B2B-WORLD",
    "consumer:domestic": "B2C",
    "consumer:eu": "B2C",
    "consumer:world": "B2C",
}
"""Region + business → Asperion debtor kind (``debtorKindId``). An empty value means "leave the kind unset"."""

UPDATABLE_FIELDS = (
    "name",
    "attentionTo",
    "address",
    "addressLine2",
    "postCode",
    "city",
    "countryCode",
    "phoneNumber",
    "vatNumber",
    "debtorKindId",
)
"""Fields that "update customer" may change on an existing debtor (never the e-mail, number or terms)."""


class DebtorRules(Protocol):
    """The settings :func:`decide` reads (the lookup node's config satisfies it)."""

    match_key: str
    guests_to_default: bool
    always_default: bool
    default_debtor: str
    update_existing: bool
    create_missing: bool
    classification: dict[str, str]
    payment_condition: int | None
    vat_meta_keys: list[str]
    shop_country: str


@dataclass(frozen=True)
class Decision:
    """What to do for one record.

    Attributes:
        action: ``default`` (use the default debtor), ``use`` (an existing debtor as it is), ``update`` (an existing
            debtor, changed first) or ``create`` (a new debtor).
        reason: one sentence for the record's log.
        customer_number: the debtor's customer number when known (not for ``create``).
        debtor_id: the Asperion id of an existing debtor (``use``/``update``).
        payload: the debtor body to create, or the changed fields to update.
        changes: for ``update``: field → ``[old, new]``.
        kind: ``company`` or ``person`` for debtors made from the record; None for the default debtor.
    """

    action: Literal["default", "use", "update", "create"]
    reason: str
    customer_number: str | None = None
    debtor_id: int | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    changes: dict[str, list[Any]] = field(default_factory=dict)
    kind: Literal["company", "person"] | None = None


def normalize_email(value: Any) -> str:
    """An e-mail address as compared: trimmed and lower case ("" for nothing)."""
    return str(value).strip().lower() if value is not None else ""


def _text(value: Any) -> str:
    return str(value).strip() if value is not None else ""


def is_guest(source: Mapping[str, Any]) -> bool:
    """Whether a WooCommerce order was placed without an account (``customer_id`` 0). Customers never are."""
    if "customer_id" not in source:
        return False
    try:
        return int(source.get("customer_id") or 0) == 0
    except (TypeError, ValueError):
        return False


def match_value(source: Mapping[str, Any], match_key: str) -> str:
    """The normalised value to find the debtor by (the billing e-mail by default; a customer's own e-mail too)."""
    value = normalize_email(get_value(source, match_key))
    if not value and match_key == "billing.email":
        value = normalize_email(source.get("email"))
    return value


def is_business_guest(source: Mapping[str, Any], rules: DebtorRules) -> bool:
    """A guest order with a company and a VAT number, when such guests get their own debtor (setting)."""
    if not getattr(rules, "business_guests_own_debtor", False) or not is_guest(source):
        return False
    company = _text(_billing(source).get("company"))
    return bool(company) and bool(vat_number(source, rules.vat_meta_keys))


def _to_default(source: Mapping[str, Any], rules: DebtorRules) -> bool:
    """Whether the guest rule sends this record to the default debtor."""
    return rules.guests_to_default and is_guest(source) and not is_business_guest(source, rules)


def vat_number(source: Mapping[str, Any], keys: Sequence[str]) -> str:
    """The record's VAT number: the first non-empty meta value under ``keys``, without spaces, upper case ("")."""
    return _meta_vat_number(source.get("meta_data"), keys).replace(" ", "").upper()


def region(country: str, shop_country: str) -> Literal["domestic", "eu", "world"]:
    """``domestic`` (the shop's country), ``eu`` (another member state) or ``world``."""
    return region_of(country, shop_country)


def classification_key(country: str, business: bool, shop_country: str) -> str:
    """The classification table's row for a debtor, e.g. ``business:eu``."""
    return f"{'business' if business else 'consumer'}:{region(country, shop_country)}"


def _billing(source: Mapping[str, Any]) -> dict[str, Any]:
    billing = dict(source.get("billing") or {})
    # A WooCommerce customer may have an empty billing name/e-mail while its own fields are set.
    for key in ("first_name", "last_name", "email"):
        if not _text(billing.get(key)) and _text(source.get(key)):
            billing[key] = source.get(key)
    return billing


DebtorKind = Literal["company", "person"]


def debtor_payload(source: Mapping[str, Any], rules: DebtorRules) -> tuple[dict[str, Any], DebtorKind]:
    """The Asperion debtor a WooCommerce order or customer describes (company or person), and which of the two.

    Raises:
        NeedsMapping: the classification table has no row for the debtor's region and business.
    """
    billing = _billing(source)
    person = " ".join(p for p in (_text(billing.get("first_name")), _text(billing.get("last_name"))) if p)
    company = _text(billing.get("company"))
    vat = vat_number(source, rules.vat_meta_keys)
    country = _text(billing.get("country")).upper() or rules.shop_country.upper()
    payload: dict[str, Any] = {
        "name": company or person or normalize_email(billing.get("email")),
        "address": _text(billing.get("address_1")),
        "addressLine2": _text(billing.get("address_2")),
        "postCode": _text(billing.get("postcode")),
        "city": _text(billing.get("city")),
        "countryCode": country,
        "emailAddress": normalize_email(billing.get("email")),
        "phoneNumber": _text(billing.get("phone")),
    }
    if company and person:
        payload["attentionTo"] = person
    if vat:
        payload["vatNumber"] = vat
    key = classification_key(country, bool(company or vat), rules.shop_country)
    if key not in rules.classification:
        raise NeedsMapping("classification", key)
    if rules.classification[key]:
        payload["debtorKindId"] = rules.classification[key]
    if rules.payment_condition is not None:
        payload["paymentConditionId"] = rules.payment_condition
    return payload, "company" if company else "person"


def debtor_changes(existing: Mapping[str, Any], wanted: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Field → ``[old, new]`` for the updatable fields where ``wanted`` has a value that differs from ``existing``.

    Empty wanted values never blank a field, except the address's second line when the address itself changes.
    """
    changes: dict[str, list[Any]] = {}
    address_changes = _text(wanted.get("address")) and _text(wanted.get("address")) != _text(existing.get("address"))
    for name in UPDATABLE_FIELDS:
        new = _text(wanted.get(name))
        old = _text(existing.get(name))
        if name == "addressLine2" and address_changes:
            if new != old:
                changes[name] = [existing.get(name), new]
        elif new and new != old:
            changes[name] = [existing.get(name), wanted.get(name)]
    return changes


def _default(rules: DebtorRules, reason: str) -> Decision:
    return Decision("default", reason, customer_number=rules.default_debtor.strip())


def decide(source: Mapping[str, Any], found: Mapping[str, Any] | None, rules: DebtorRules) -> Decision:
    """Decide the debtor of a WooCommerce order or customer (mappings.md step 3).

    Args:
        source: the WooCommerce order (or customer) as read.
        found: the debtor found by the match value (already checked for an exact match), or None.
        rules: the lookup's settings.

    Returns:
        The decision; :func:`needs_search` tells beforehand whether ``found`` matters.

    Raises:
        RecordFailed: no e-mail and no default debtor, or no debtor found while creating is off.
        NeedsMapping: a new debtor's classification is missing from the table.
    """
    has_default = bool(rules.default_debtor.strip())
    if has_default and rules.always_default:
        return _default(rules, "always the default debtor (setting)")
    if has_default and _to_default(source, rules):
        return _default(rules, "guest order → default debtor")
    email = match_value(source, rules.match_key)
    if not email:
        if has_default:
            return _default(rules, f"no {rules.match_key} on the record → default debtor")
        raise RecordFailed("order has no e-mail and no default debtor is set")
    if found is not None:
        number = _text(found.get("customerNumber"))
        debtor_id = found.get("id")
        if rules.update_existing:
            wanted, kind = debtor_payload(source, rules)
            changes = debtor_changes(found, wanted)
            if changes:
                return Decision(
                    "update",
                    f"debtor {number} found by {email}; updating {', '.join(changes)}",
                    customer_number=number,
                    debtor_id=debtor_id,
                    payload={name: new for name, (_, new) in changes.items()},
                    changes=changes,
                    kind=kind,
                )
        return Decision("use", f"debtor {number} found by {email}", customer_number=number, debtor_id=debtor_id)
    if not rules.create_missing:
        raise RecordFailed(f"no debtor with e-mail {email} in Asperion and creating debtors is switched off")
    payload, kind = debtor_payload(source, rules)
    return Decision("create", f"no debtor with e-mail {email}; creating a {kind} debtor", payload=payload, kind=kind)


def needs_search(source: Mapping[str, Any], rules: DebtorRules) -> str:
    """The match value to search Asperion by, or "" when :func:`decide` will not look at a found debtor."""
    has_default = bool(rules.default_debtor.strip())
    if has_default and (rules.always_default or _to_default(source, rules)):
        return ""
    return match_value(source, rules.match_key)
