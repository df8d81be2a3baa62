"""Unit tests for reactor.messages."""

import pytest

from reactor.domain.messages import InvoiceView
from reactor.messages.renderer import MessageRenderer, format_amount
from reactor.messages.sms import segments

INVOICE_ID = "0b6c2f1e-1111-2222-3333-444455556666"
XSS = '<script>alert("x")</script>'


def invoice(**overrides: str | None) -> InvoiceView:
    fields: dict[str, str | None] = {
        "invoice_id": INVOICE_ID,
        "invoice_number": "INV-1001",
        "vendor_name": "Acme Corp",
        "total_amount": "1234.5",
        "currency": None,
    }
    fields.update(overrides)
    return InvoiceView(**fields)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def renderer() -> MessageRenderer:
    return MessageRenderer("https://app.example.com/")


def test_link_strips_trailing_slash_and_fills_id(renderer: MessageRenderer) -> None:
    assert renderer.link(INVOICE_ID) == f"https://app.example.com/invoices/{INVOICE_ID}"
    custom = MessageRenderer("https://x.io", invoice_path="/review?invoice={id}")
    assert custom.link("42") == "https://x.io/review?invoice=42"


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("1234.5", "USD", "$1,234.50"),
        ("0", "USD", "$0.00"),
        ("-0.001", "USD", "$0.00"),
        ("0.005", "EUR", "€0.01"),
        ("-42.1", "GBP", "-£42.10"),
        (
            "123456789012345678901234567890.129",
            "USD",
            "$123,456,789,012,345,678,901,234,567,890.13",
        ),
        (None, "USD", "amount unknown"),
        ("not a number", "USD", "amount unknown"),
        ("NaN", "USD", "amount unknown"),
    ],
)
def test_format_amount(amount: str | None, currency: str, expected: str) -> None:
    assert format_amount(amount, currency) == expected


def test_email_facts(renderer: MessageRenderer) -> None:
    mail = renderer.email(invoice())
    assert mail.subject == "Invoice INV-1001 from Acme Corp needs review"
    for part in (mail.html, mail.text):
        assert "Acme Corp" in part
        assert "INV-1001" in part
        assert "$1,234.50" in part
        assert f"https://app.example.com/invoices/{INVOICE_ID}" in part
    assert f'href="https://app.example.com/invoices/{INVOICE_ID}"' in mail.html


def test_invoice_currency_wins_over_default(renderer: MessageRenderer) -> None:
    mail = renderer.email(invoice(currency="eur", total_amount="0"))
    assert "€0.00" in mail.text
    assert "USD" not in mail.text


def test_missing_amount_and_vendor(renderer: MessageRenderer) -> None:
    mail = renderer.email(invoice(total_amount=None, vendor_name="  \n "))
    assert "amount unknown" in mail.text
    assert "Unknown vendor" in mail.text
    assert "Unknown vendor" in mail.html
    assert mail.subject == "Invoice INV-1001 needs review"


def test_subject_uses_id_when_no_number(renderer: MessageRenderer) -> None:
    mail = renderer.email(invoice(invoice_number=None, vendor_name=None))
    assert mail.subject == f"Invoice {INVOICE_ID} needs review"


def test_html_escapes_untrusted_text(renderer: MessageRenderer) -> None:
    mail = renderer.email(invoice(vendor_name=XSS, invoice_number="A'1\"&"))
    assert "<script>" not in mail.html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in mail.html
    assert "A&#39;1&#34;&amp;" in mail.html


def test_text_part_is_not_escaped(renderer: MessageRenderer) -> None:
    mail = renderer.email(invoice(vendor_name=XSS))
    assert XSS in mail.text
    assert "&lt;" not in mail.text


def test_subject_is_one_short_line(renderer: MessageRenderer) -> None:
    mail = renderer.email(
        invoice(vendor_name="Evil\r\nBcc: x@example.com\t" + "V" * 10_000, invoice_number="N\n1")
    )
    assert "\n" not in mail.subject
    assert "\r" not in mail.subject
    assert len(mail.subject) <= 150
    assert mail.subject.startswith("Invoice N 1 from Evil Bcc: x@example.com VVV")
    assert mail.subject.endswith("needs review")


def test_huge_vendor_still_renders_email(renderer: MessageRenderer) -> None:
    mail = renderer.email(invoice(vendor_name=XSS * 400))
    assert "<script>" not in mail.html
    assert mail.html.count("&lt;script&gt;") >= 400  # the body shows the whole vendor


def test_sms_contains_facts_and_link(renderer: MessageRenderer) -> None:
    body = renderer.sms(invoice())
    assert body == (
        f"Invoice needs review: Acme Corp $1,234.50 https://app.example.com/invoices/{INVOICE_ID}"
    )


def test_sms_collapses_vendor_whitespace(renderer: MessageRenderer) -> None:
    body = renderer.sms(invoice(vendor_name=" Acme\n\t Corp\x00 "))
    assert "Invoice needs review: Acme Corp $1,234.50" in body


@pytest.mark.parametrize("vendor", ["Acme " * 2000, "Ж" * 10_000, "😀" * 10_000])
def test_sms_long_vendor_fits_one_segment_with_link_intact(
    renderer: MessageRenderer, vendor: str
) -> None:
    body = renderer.sms(invoice(vendor_name=vendor))
    assert segments(body) == 1
    assert body.endswith(f"$1,234.50 https://app.example.com/invoices/{INVOICE_ID}")


def test_sms_respects_configured_segments() -> None:
    two = MessageRenderer("https://app.example.com", sms_max_segments=2)
    body = two.sms(invoice(vendor_name="Acme " * 2000))
    assert segments(body) == 2
    assert body.endswith(INVOICE_ID)


def _many(count: int) -> list[InvoiceView]:
    return [
        invoice(
            invoice_id=f"00000000-0000-4000-8000-{n:012d}",
            vendor_name=f"Vendor {n}",
            total_amount="100.00",
            currency="EUR" if n % 5 == 0 else "USD",
        )
        for n in range(count)
    ]


def test_a_digest_email_counts_totals_and_lists_the_first_twenty(
    renderer: MessageRenderer,
) -> None:
    email = renderer.digest_email(_many(25))
    assert email.subject == "25 invoices need review ($2,000.00, €500.00)"
    for part in (email.text, email.html):
        assert "Vendor 19" in part and "Vendor 20" not in part
        assert "and 5 more" in part
        assert "https://app.example.com/invoices?status=NEEDS_REVIEW" in part
    assert "https://app.example.com/invoices/00000000-0000-4000-8000-000000000003" in email.html


def test_a_digest_escapes_hostile_vendors(renderer: MessageRenderer) -> None:
    hostile = [invoice(vendor_name="<script>alert(1)</script>"), invoice(vendor_name="A&B")]
    email = renderer.digest_email(hostile)
    assert "<script>" not in email.html and "&lt;script&gt;" in email.html
    assert "A&amp;B" in email.html


def test_amounts_that_are_not_numbers_are_counted_not_summed(renderer: MessageRenderer) -> None:
    totals = renderer.totals([invoice(total_amount="12.50"), invoice(total_amount="n/a")])
    assert totals == "$12.50, 1 without an amount"


def test_a_digest_sms_fits_one_segment_and_keeps_the_queue_link(
    renderer: MessageRenderer,
) -> None:
    currencies = ["USD", "EUR", "GBP", "CHF", "JPY", "SEK", "NOK", "DKK", "PLN", "CZK"]
    many = [invoice(total_amount=f"{n}123456.78", currency=currencies[n % 10]) for n in range(40)]
    body = renderer.digest_sms(many)
    assert segments(body) == 1
    assert body.startswith("40 invoices need review")
    assert body.endswith("https://app.example.com/invoices?status=NEEDS_REVIEW")
