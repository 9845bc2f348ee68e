"""Error and validation messages of the Asperion simulator in Dutch and English (``Accept-Language``)."""

from __future__ import annotations

from typing import Literal

__all__ = ("DEFAULT_LANGUAGE", "MESSAGES", "Language", "negotiate", "text")

Language = Literal["nl", "en"]

DEFAULT_LANGUAGE: Language = "nl"
"""Asperion is a Dutch product: without ``Accept-Language`` the messages are Dutch."""

MESSAGES: dict[str, dict[Language, str]] = {
    # titles
    "title.400": {
        "en": "One or more validation errors occurred.",
        "nl": "Er zijn een of meer validatiefouten opgetreden.",
    },
    "title.401": {"en": "Unauthorized", "nl": "Niet geautoriseerd"},
    "title.403": {"en": "Forbidden", "nl": "Geen toegang"},
    "title.404": {"en": "Not Found", "nl": "Niet gevonden"},
    "title.405": {"en": "Method Not Allowed", "nl": "Methode niet toegestaan"},
    "title.409": {"en": "Conflict", "nl": "Conflict"},
    "title.415": {"en": "Unsupported Media Type", "nl": "Niet-ondersteund mediatype"},
    "title.500": {"en": "An error occurred while processing your request.", "nl": "Er is een fout opgetreden."},
    # authentication and tenancy
    "auth.missing": {
        "en": "No bearer token was sent.",
        "nl": "Er is geen bearer-token meegestuurd.",
    },
    "auth.invalid": {
        "en": "The access token is invalid or has expired.",
        "nl": "Het toegangstoken is ongeldig of verlopen.",
    },
    "tenant.forbidden": {
        "en": "You have no access to administration {id}.",
        "nl": "U heeft geen toegang tot administratie {id}.",
    },
    "tenant.not_a_number": {
        "en": "The administration id in X-Tenant-Id must be a number, not '{value}'.",
        "nl": "Het administratienummer in X-Tenant-Id moet een getal zijn, niet '{value}'.",
    },
    "module.intrade": {
        "en": "Administration {id} has no inTrade package; sales orders and stock are not available.",
        "nl": "Administratie {id} heeft geen inTrade-pakket; verkooporders en voorraad zijn niet beschikbaar.",
    },
    # request shape
    "json.invalid": {
        "en": "The request body is not valid JSON.",
        "nl": "De inhoud van het verzoek is geen geldige JSON.",
    },
    "json.object": {
        "en": "The request body must be a JSON object.",
        "nl": "De inhoud van het verzoek moet een JSON-object zijn.",
    },
    "json.type": {
        "en": "The JSON value could not be converted to {type}. Path: {path}.",
        "nl": "De JSON-waarde kon niet worden omgezet naar {type}. Pad: {path}.",
    },
    "json.lines": {
        "en": "Lines must be an object with a '_data' array.",
        "nl": "Regels moeten een object met een '_data'-lijst zijn.",
    },
    "media.json": {
        "en": "The request body must be sent as application/json.",
        "nl": "De inhoud van het verzoek moet als application/json worden verstuurd.",
    },
    "field.required": {"en": "The {field} field is required.", "nl": "Het veld {field} is verplicht."},
    "field.read_only": {
        "en": "{field} is read-only and cannot be written.",
        "nl": "{field} is alleen-lezen en kan niet worden gewijzigd.",
    },
    "field.too_long": {
        "en": "{field} may be at most {max} characters long.",
        "nl": "{field} mag hoogstens {max} tekens lang zijn.",
    },
    "field.country": {
        "en": "'{value}' is not a two-letter ISO country code.",
        "nl": "'{value}' is geen ISO-landcode van twee letters.",
    },
    "field.period": {
        "en": "The book period must lie between 1 and 12.",
        "nl": "De boekperiode moet tussen 1 en 12 liggen.",
    },
    "field.status": {
        "en": "'{value}' is not a valid status; use one of: {allowed}.",
        "nl": "'{value}' is geen geldige status; gebruik een van: {allowed}.",
    },
    "field.positive": {
        "en": "{field} must be greater than 0.",
        "nl": "{field} moet groter zijn dan 0.",
    },
    # references
    "ref.debtor": {
        "en": "Debtor with customer number '{value}' does not exist.",
        "nl": "Debiteur met klantnummer '{value}' bestaat niet.",
    },
    "ref.debtor_id": {"en": "Debtor {value} does not exist.", "nl": "Debiteur {value} bestaat niet."},
    "ref.creditor": {"en": "Creditor {value} does not exist.", "nl": "Crediteur {value} bestaat niet."},
    "ref.purchase_invoice": {
        "en": "Purchase invoice {value} does not exist.",
        "nl": "Inkoopfactuur {value} bestaat niet.",
    },
    "ref.journal": {"en": "Journal '{value}' does not exist.", "nl": "Dagboek '{value}' bestaat niet."},
    "ref.journal_not_sales": {
        "en": "Journal '{value}' is not a sales journal.",
        "nl": "Dagboek '{value}' is geen verkoopboek.",
    },
    "ref.ledger": {
        "en": "Ledger account {value} does not exist.",
        "nl": "Grootboekrekening {value} bestaat niet.",
    },
    "ref.ledger_disabled": {
        "en": "Ledger account {value} is disabled.",
        "nl": "Grootboekrekening {value} is geblokkeerd.",
    },
    "ref.vat": {"en": "VAT code '{value}' does not exist.", "nl": "Btw-code '{value}' bestaat niet."},
    "ref.vat_missing": {
        "en": "A VAT code is required: ledger account {ledger} has no default VAT code.",
        "nl": "Een btw-code is verplicht: grootboekrekening {ledger} heeft geen standaard btw-code.",
    },
    "ref.payment_condition": {
        "en": "Payment condition {value} does not exist.",
        "nl": "Betalingsconditie {value} bestaat niet.",
    },
    "ref.article": {"en": "Article {value} does not exist.", "nl": "Artikel {value} bestaat niet."},
    "ref.sales_invoice": {
        "en": "Sales invoice {value} does not exist.",
        "nl": "Verkoopfactuur {value} bestaat niet.",
    },
    "ref.cost_center": {"en": "Cost center {value} does not exist.", "nl": "Kostenplaats {value} bestaat niet."},
    "ref.cost_unit": {"en": "Cost unit {value} does not exist.", "nl": "Kostendrager {value} bestaat niet."},
    "ref.debtor_kind": {
        "en": "Debtor kind '{value}' does not exist.",
        "nl": "Debiteurensoort '{value}' bestaat niet.",
    },
    "ref.sales_type": {"en": "Sales type {value} does not exist.", "nl": "Verkoopsoort {value} bestaat niet."},
    # business rules
    "invoice.no_lines": {
        "en": "A sales invoice needs at least one line.",
        "nl": "Een verkoopfactuur moet minstens één regel hebben.",
    },
    "invoice.final": {
        "en": "Sales invoice {id} has been processed (invoice number {number}); it can no longer be changed.",
        "nl": "Verkoopfactuur {id} is verwerkt (factuurnummer {number}); ze kan niet meer worden gewijzigd.",
    },
    "order.no_lines": {
        "en": "A sales order needs at least one line.",
        "nl": "Een verkooporder moet minstens één regel hebben.",
    },
    "entry.no_lines": {
        "en": "A journal entry needs at least one line.",
        "nl": "Een boeking moet minstens één regel hebben.",
    },
    "entry.unbalanced": {
        "en": "The lines of a journal entry must add up to 0; they add up to {total}.",
        "nl": "De regels van een boeking moeten samen 0 zijn; ze zijn samen {total}.",
    },
    "line.amount_or_article": {
        "en": "Give an amount, or an article with quantity and unit price.",
        "nl": "Geef een bedrag, of een artikel met aantal en stukprijs.",
    },
    "duplicate.customer_number": {
        "en": "A debtor with customer number '{value}' already exists.",
        "nl": "Er bestaat al een debiteur met klantnummer '{value}'.",
    },
    "duplicate.article_code": {
        "en": "An article with code '{value}' already exists.",
        "nl": "Er bestaat al een artikel met code '{value}'.",
    },
    "duplicate.order_number": {
        "en": "A sales order with number '{value}' already exists.",
        "nl": "Er bestaat al een verkooporder met nummer '{value}'.",
    },
    "file.required": {
        "en": "A file is required (multipart form field 'File').",
        "nl": "Een bestand is verplicht (multipart-formulierveld 'File').",
    },
    "file.multipart": {
        "en": "The file must be sent as multipart/form-data.",
        "nl": "Het bestand moet als multipart/form-data worden verstuurd.",
    },
    # lists
    "list.page": {"en": "Page must be 1 or higher.", "nl": "Page moet 1 of hoger zijn."},
    "list.page_size": {
        "en": "PageSize must lie between 1 and {max}.",
        "nl": "PageSize moet tussen 1 en {max} liggen.",
    },
    "list.value": {
        "en": "'{value}' is not a valid value for {field}.",
        "nl": "'{value}' is geen geldige waarde voor {field}.",
    },
    "list.comparison": {
        "en": "Unknown comparison '{value}'; use Contains, Equals, NotEquals, StartsWith or EndsWith.",
        "nl": "Onbekende vergelijking '{value}'; gebruik Contains, Equals, NotEquals, StartsWith of EndsWith.",
    },
    "list.order_by": {
        "en": "Cannot order by '{value}'.",
        "nl": "Kan niet sorteren op '{value}'.",
    },
    # generic
    "not_found": {"en": "{resource} {id} was not found.", "nl": "{resource} {id} is niet gevonden."},
    "route.not_found": {
        "en": "No resource exists at this address.",
        "nl": "Op dit adres bestaat geen resource.",
    },
    "route.method": {
        "en": "This method is not allowed on this resource.",
        "nl": "Deze methode is niet toegestaan op deze resource.",
    },
}


def negotiate(header: str | None) -> Language:
    """Pick the language of the messages from an ``Accept-Language`` header.

    Args:
        header: The header's value, e.g. ``"en-US,en;q=0.9,nl;q=0.8"``.

    Returns:
        ``"en"`` or ``"nl"``: the supported language the client prefers most; Dutch when it names neither.
    """
    if not header:
        return DEFAULT_LANGUAGE
    best: tuple[float, int, Language] | None = None
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-", 1)[0]
        if primary not in ("en", "nl"):
            continue
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        if quality <= 0:
            continue
        candidate: tuple[float, int, Language] = (-quality, position, "en" if primary == "en" else "nl")
        if best is None or candidate < best:
            best = candidate
    return best[2] if best else DEFAULT_LANGUAGE


def text(key: str, language: Language, params: dict[str, object] | None = None) -> str:
    """The message ``key`` in ``language``, formatted with ``params``.

    Args:
        key: A key of :data:`MESSAGES`.
        language: ``"nl"`` or ``"en"``.
        params: Values for the message's placeholders; a dict value (``{"en": …, "nl": …}``) is a label
            given in both languages.

    Returns:
        The message text.
    """
    template = MESSAGES[key][language]
    if not params:
        return template
    resolved = {name: value[language] if isinstance(value, dict) else value for name, value in params.items()}
    return template.format(**resolved)
