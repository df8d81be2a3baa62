"""The translations: complete catalogs, an up-to-date messages.pot, messages in German,
French, Spanish and Polish, and English for whatever a catalog lacks. No database."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

from reactor.domain.messages import InvoiceView
from reactor.messages.locales import CATALOGS, translations
from reactor.messages.renderer import MessageRenderer
from reactor.messages.sms import encoding, segments
from tests.helpers import ROOT

TEMPLATE = CATALOGS / "messages.pot"
LANGUAGES = {"de": 2, "fr": 3, "es": 3, "pl": 3}  # language: its number of plural forms
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
NBSP = "\u00a0"
LINK = "https://app.example.com/invoices/0b6c2f1e-1111-2222-3333-444455556666"
QUEUE = "https://app.example.com/invoices?status=NEEDS_REVIEW"


def _read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as file:
        return read_po(file, locale=locale)


def _ids(catalog: Catalog) -> set[str | tuple[str, ...]]:
    return {message.id for message in catalog if message.id}


def _placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


def invoice(**overrides: str | None) -> InvoiceView:
    fields: dict[str, str | None] = {
        "invoice_id": "0b6c2f1e-1111-2222-3333-444455556666",
        "invoice_number": "INV-1001",
        "vendor_name": "Acme Corp",
        "total_amount": "1250",
        "currency": "EUR",
    }
    fields.update(overrides)
    return InvoiceView(**fields)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def renderer() -> MessageRenderer:
    return MessageRenderer("https://app.example.com/")


# -- the catalogs ------------------------------------------------------------------


def test_every_language_has_a_catalog() -> None:
    found = {path.parent.parent.name for path in CATALOGS.glob("*/LC_MESSAGES/messages.po")}
    assert found == set(LANGUAGES)


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_catalog_translates_every_message_of_the_template(language: str) -> None:
    template = _read(TEMPLATE)
    catalog = _read(CATALOGS / language / "LC_MESSAGES" / "messages.po", language)
    assert _ids(catalog) == _ids(template), "run `pybabel update` (docs/messages.md)"
    assert catalog.num_plurals == LANGUAGES[language]
    assert not catalog.fuzzy, "the header is marked fuzzy"
    for message in catalog:
        if not message.id:
            continue
        assert not message.fuzzy, f"{language}: fuzzy {message.id!r}"
        if isinstance(message.id, tuple):
            singular, plural = message.id
            assert _placeholders(singular) == _placeholders(plural)
            strings = message.string
            assert isinstance(strings, tuple)
            assert len(strings) == catalog.num_plurals, f"{language}: {message.id!r}"
        else:
            singular, strings = message.id, (message.string,)
        for string in strings:
            assert isinstance(string, str)
            assert string.strip(), f"{language}: {message.id!r} is not translated"
            assert _placeholders(string) == _placeholders(singular), f"{language}: {string!r}"
            # Jinja's newstyle gettext %-formats every message: a lone % would break it.
            assert "%" not in PLACEHOLDER.sub("", string), f"{language}: {string!r}"
            assert string == string.strip(), f"{language}: {string!r} has outer spaces"
        assert not list(catalog.check()), f"{language}: Babel's checks fail"


def test_messages_pot_is_up_to_date(tmp_path: Path) -> None:
    fresh = tmp_path / "messages.pot"
    CommandLineInterface().run(
        [
            "pybabel",
            "--quiet",
            "extract",
            "-F",
            str(ROOT / "babel.cfg"),
            "--no-location",
            "--sort-output",
            "-o",
            str(fresh),
            str(ROOT),
        ]
    )
    assert _ids(_read(fresh)) == _ids(_read(TEMPLATE)), (
        "messages.pot is stale: re-extract it and `pybabel update` (docs/messages.md)"
    )


@pytest.mark.parametrize(
    ("locale", "counts"),
    [
        # pl: 1 | 2-4 and 22-24, 32-34, ... but not 12-14 | the rest
        (
            "pl_PL",
            {
                1: "faktura",
                2: "faktury",
                4: "faktury",
                5: "faktur",
                12: "faktur",
                14: "faktur",
                22: "faktury",
                25: "faktur",
                104: "faktury",
                112: "faktur",
                0: "faktur",
            },
        ),
        # fr: 0 and 1 are singular; round millions take "de"
        ("fr_FR", {0: "facture", 1: "facture", 2: "factures", 1_000_000: "de factures"}),
        ("es_ES", {1: "factura", 0: "facturas", 2: "facturas", 1_000_000: "de facturas"}),
        ("de_DE", {1: "Rechnung", 0: "Rechnungen", 2: "Rechnungen"}),
    ],
)
def test_plural_forms(locale: str, counts: dict[int, str]) -> None:
    words = translations(locale)
    for count, noun in counts.items():
        text = words.ngettext(
            "%(num)s invoice needs review", "%(num)s invoices need review", count
        ) % {"num": count}
        assert text.startswith(f"{count} {noun} "), text


def test_an_unknown_message_falls_back_to_english() -> None:
    assert translations("de_DE").gettext("not in the catalog") == "not in the catalog"
    assert translations("pl_PL").ngettext("one thing", "%(num)s things", 5) == "%(num)s things"
    # no catalog for the language at all: the templates' own English
    assert translations("ja_JP").gettext("Amount") == "Amount"
    # a country without a catalog of its own reads its language's
    assert translations("de_AT").gettext("Amount") == "Betrag"


# -- the rendered messages -----------------------------------------------------------


def test_german_email_sms_and_digest(renderer: MessageRenderer) -> None:
    mail = renderer.email(invoice(), locale="de_DE")
    assert mail.subject == "Rechnung INV-1001 von Acme Corp zu prüfen"
    assert f"Betrag: 1.250,00{NBSP}€" in mail.text
    assert "Lieferant: Acme Corp" in mail.text
    assert '<html lang="de">' in mail.html
    assert ">Rechnung prüfen</a>" in mail.html

    assert renderer.email(invoice(), reminder=True, locale="de_DE").subject == (
        "Erinnerung: Rechnung INV-1001 von Acme Corp noch zu prüfen"
    )
    assert renderer.sms(invoice(), reply_code=2, locale="de_DE") == (
        f"Rechnung zu prüfen: Acme Corp 1.250,00 € {LINK} Zum Übernehmen mit 2 antworten."
    )

    digest = renderer.digest_email([invoice(), invoice(total_amount=None)], locale="de_DE")
    assert digest.subject == "2 Rechnungen zu prüfen (1.250,00 €, 1 ohne Betrag)"
    assert digest.text.startswith("2 Rechnungen sind zu prüfen.")
    assert renderer.digest_sms([invoice()], locale="de_DE") == (
        f"1 Rechnung zu prüfen, 1.250,00 €: {QUEUE}"
    )
    waited = renderer.slack(invoice(), waited_seconds=3 * 3600, locale="de_DE")
    assert {
        "type": "plain_text",
        "text": "Wartet bereits 3 Stunden auf Prüfung",
        "emoji": False,
    } in (waited.blocks[2]["elements"])


def test_polish_messages(renderer: MessageRenderer) -> None:
    assert renderer.email(invoice(), locale="pl_PL").subject == (
        "Faktura INV-1001 od dostawcy Acme Corp do weryfikacji"
    )
    assert renderer.sms(invoice(), reply_code=3, locale="pl_PL") == (
        f"Faktura do weryfikacji: Acme Corp 1 250,00 € {LINK} Bierzesz? Odpowiedz 3."
    )
    assert renderer.digest_sms([invoice()] * 3, locale="pl_PL") == (
        f"3 faktury do weryfikacji, 3 750,00 €: {QUEUE}"
    )
    assert renderer.digest_email([invoice()] * 5, locale="pl_PL").subject == (
        "5 faktur do weryfikacji (6 250,00 €)"
    )
    assert renderer.taken_sms(invoice(), "Anna", locale="pl_PL") == (
        "Fakturą INV-1001 zajmuje się Anna: nic nie musisz robić."
    )


def test_french_and_spanish_messages(renderer: MessageRenderer) -> None:
    assert renderer.email(invoice(), locale="fr_FR").subject == (
        "Facture INV-1001 (Acme Corp) à valider"
    )
    assert renderer.sms(invoice(), reply_code=2, locale="fr_FR") == (
        f"Facture à valider : Acme Corp 1 250,00 € {LINK} Répondez 2 pour la prendre en charge."
    )
    assert renderer.email(invoice(), locale="es_ES").subject == (
        "Factura INV-1001 de Acme Corp pendiente de revisión"
    )
    assert renderer.sms(invoice(), reply_code=2, locale="es_ES") == (
        f"Factura por revisar: Acme Corp 1.250,00 € {LINK} Responda 2 para encargarse."
    )


@pytest.mark.parametrize("locale", ["de_DE", "fr_FR", "es_ES", "pl_PL"])
def test_translated_sms_stay_gsm7_and_in_one_segment(
    renderer: MessageRenderer, locale: str
) -> None:
    """A letter outside GSM-7 would send the SMS as UCS-2: 70 characters, not 160."""
    texts = [
        renderer.sms(invoice(), reply_code=12, locale=locale),
        renderer.sms(invoice(), reminder=True, locale=locale),
        renderer.digest_sms([invoice(), invoice(total_amount=None)] * 2, locale=locale),
    ]
    for text in texts:
        assert encoding(text) == "GSM-7", text
        assert segments(text) == 1, text
