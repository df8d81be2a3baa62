"""Skeletons: the built-in SMS filled from its skeleton is Jinja's rendering, exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from reactor.domain.messages import InvoiceView
from reactor.messages.renderer import MessageRenderer
from reactor.messages.skeletons import shape, skeleton

LOCALES = ["en_US", "de_DE", "fr_FR", "es_ES", "pl_PL", "pt_BR"]
VENDORS = ["Acme Corp", "", "Müller & Söhne {{ 7*7 }} %(code)s", "x" * 400]
AMOUNTS = ["1234.5", None, "-3", "1250.005"]


def invoice(vendor: str, amount: str | None, currency: str | None = "EUR") -> InvoiceView:
    return InvoiceView(
        invoice_id="0b6c2f1e-1111-2222-3333-444455556666",
        invoice_number="INV-1",
        vendor_name=vendor,
        total_amount=amount,
        currency=currency,
    )


class JinjaOnly(MessageRenderer):
    """The same renderer, with the built-in SMS template always rendered by Jinja."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._builtin_sms = False


@pytest.mark.parametrize("segments", [1, 3])
def test_skeleton_text_is_jinjas(segments: int) -> None:
    fast = MessageRenderer("https://ap.example.com", sms_max_segments=segments)
    jinja = JinjaOnly("https://ap.example.com", sms_max_segments=segments)
    compared = 0
    for locale in LOCALES:
        for vendor in VENDORS:
            for amount in AMOUNTS:
                for reminder in (False, True):
                    for code in (None, 7, 0):
                        found = invoice(vendor, amount)
                        expected = jinja.sms(found, reminder, code, locale)
                        assert fast.sms(found, reminder, code, locale) == expected
                        compared += 1
    assert compared == len(LOCALES) * len(VENDORS) * len(AMOUNTS) * 2 * 3
    assert fast._skeletons and all(found is not None for found in fast._skeletons.values())


def test_a_template_that_transforms_its_values_has_no_skeleton(tmp_path: Path) -> None:
    (tmp_path / "sms.txt.j2").write_text("{{ vendor|upper }} {{ amount }} {{ link }}")
    renderer = MessageRenderer("https://ap.example.com", templates_dir=tmp_path)
    template = renderer.template("sms.txt.j2")
    values = {"vendor": "acme", "amount": "$1.00", "link": "https://x"}
    assert skeleton(template, values) is None  # the hole came out upper-cased
    assert renderer.sms(invoice("acme", "1")).startswith("ACME ")


def test_templates_dir_sms_is_always_rendered_by_jinja(tmp_path: Path) -> None:
    # A comparison cannot be seen in a skeleton: TEMPLATES_DIR's template never gets one.
    (tmp_path / "sms.txt.j2").write_text(
        "{% if vendor == 'Acme' %}Our best vendor{% else %}{{ vendor }}{% endif %} {{ link }}"
    )
    renderer = MessageRenderer("https://ap.example.com", templates_dir=tmp_path)
    assert renderer.sms(invoice("Acme", "1")).startswith("Our best vendor ")
    assert renderer.sms(invoice("Globex", "1")).startswith("Globex ")
    assert renderer._skeletons == {}


def test_shape_is_which_values_are_given() -> None:
    assert shape({"vendor": "", "amount": "1", "link": "x"}) == (False, True, True)
