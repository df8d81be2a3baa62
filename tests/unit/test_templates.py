"""Templates you own (TEMPLATES_DIR) and the reader's formats, without a database: an
override replaces one template and keeps the others; a broken, unknown-variable,
unsafe, sandbox-escaping or too-long template is refused naming its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from reactor.domain.messages import InvoiceView
from reactor.messages.amounts import format_amount
from reactor.messages.locales import format_count, format_day, preferred_locale
from reactor.messages.renderer import MessageRenderer
from reactor.messages.sms import encoding, segments
from reactor.messages.template_checks import TemplatesError, check_templates
from reactor.policy.rules import RulesError, load_rules
from reactor.settings.service import ConfigError, load_settings

INVOICE = InvoiceView("0b7c", "INV-1", "Acme <b>GmbH</b>", "1250", "EUR", "2026-12-04")


def _renderer(folder: Path | None = None, segments: int = 1) -> MessageRenderer:
    return MessageRenderer(
        "https://app.example.com", templates_dir=folder, sms_max_segments=segments
    )


def _refusal(folder: Path, name: str, source: str, segments: int = 1) -> str:
    (folder / name).write_text(source)
    with pytest.raises(TemplatesError) as refused:
        check_templates(_renderer(folder, segments), folder, [])
    message = str(refused.value)
    assert "\n" not in message and message.startswith(f"TEMPLATES_DIR ({folder}): ")
    return message.removeprefix(f"TEMPLATES_DIR ({folder}): ")


def test_an_override_replaces_its_template_and_keeps_the_others(tmp_path: Path) -> None:
    (tmp_path / "email_subject.txt.j2").write_text(
        "[AP] {{ reference }}: {{ vendor }}{% if reminder %} (again){% endif %}"
    )
    (tmp_path / "_footer.txt.j2").write_text("Acme AP team")  # a part, for {% include %}
    renderer = _renderer(tmp_path)
    check_templates(renderer, tmp_path, ["de_DE"])
    built_in = _renderer().email(INVOICE)
    mail = renderer.email(INVOICE, reminder=True)
    assert mail.subject == "[AP] INV-1: Acme <b>GmbH</b> (again)"
    assert mail.text.replace("Reminder: invoice INV-1 still", "Invoice INV-1") == built_in.text
    assert "Acme &lt;b&gt;GmbH&lt;/b&gt;" in mail.html  # the built-in HTML, still escaped


@pytest.mark.parametrize(
    ("name", "source", "expected"),
    [
        ("email.txt.j2", "Hello\n{% if reminder %}\nx", "email.txt.j2 line 3: Unexpected end"),
        (
            "sms.txt.j2",
            "{{ amount }}\n{{ vendor_email }}",
            "sms.txt.j2 line 2: unknown variable 'vendor_email' (known: amount, link,",
        ),
        (
            "email.html.j2",
            "<p>{% autoescape false %}{{ vendor }}{% endautoescape %}</p>",
            "email.html.j2 line 1: autoescaping cannot be turned off",
        ),
        ("email.html.j2", "<p>\n{{ vendor|safe }}</p>", "email.html.j2 line 2: |safe would"),
        (
            "email_subject.txt.j2",
            "{{ reference }}\n{{ ''.__class__.__mro__[1].__subclasses__() }}",
            "email_subject.txt.j2 line 2: SecurityError: access to attribute '__class__'",
        ),
        (
            "sms.txt.j2",
            "{{ link }} " + "Please look at this invoice as soon as you can. " * 4,
            "sms.txt.j2: cannot fit SMS_MAX_SEGMENTS=1 with the longest link",
        ),
        ("emial.txt.j2", "typo", "emial.txt.j2: not a template name (known: digest.html.j2"),
    ],
)
def test_a_template_that_cannot_be_used_is_refused_naming_file_and_line(
    tmp_path: Path, name: str, source: str, expected: str
) -> None:
    assert _refusal(tmp_path, name, source).startswith(expected)


def test_the_sandbox_keeps_files_settings_and_the_environment_out(tmp_path: Path) -> None:
    for source in ("{{ config }}", "{{ environ }}", "{{ lipsum.__globals__ }}"):
        message = _refusal(tmp_path, "email_subject.txt.j2", source)
        assert message.startswith("email_subject.txt.j2 line 1: "), message
    (tmp_path / "email_subject.txt.j2").unlink()
    message = _refusal(tmp_path, "email.txt.j2", "{% include '/etc/passwd' %}")
    assert message.startswith("email.txt.j2 line 1: TemplateNotFound"), message


def test_templates_dir_stops_start_up_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "sms.txt.j2").write_text("{{ amount }} {{ nope }}")
    with pytest.raises(ConfigError) as refused:
        load_settings(notification_recipients="ap@example.com", templates_dir=tmp_path)
    assert str(refused.value).startswith(
        f"TEMPLATES_DIR ({tmp_path}): sms.txt.j2 line 1: unknown variable 'nope'"
    )
    with pytest.raises(ConfigError, match="DEFAULT_LOCALE: 'xx-YY' is not a locale"):
        load_settings(notification_recipients="ap@example.com", default_locale="xx-YY")


def test_amounts_dates_and_counts_in_the_readers_locale() -> None:
    assert format_amount("1250", "EUR", "de_DE") == "1.250,00\xa0€"
    assert format_amount("1250", "USD", "en_US") == "$1,250.00"
    assert format_amount("1250.005", "PLN", "pl_PL") == "1\xa0250,01\xa0zł"
    assert format_amount("7", "ZZZ", "fr_FR").endswith("ZZZ")  # a code Babel does not know
    assert format_day("2026-12-04", "de_DE") == "4. Dez. 2026"
    assert format_day("2026-12-04", "en_US") == "Dec 4, 2026"
    assert format_count(1234, "de_DE") == "1.234"
    # An SMS keeps to GSM-7 when its letters do: Babel's no-break spaces become spaces.
    sms = _renderer().sms(INVOICE, locale="fr_FR")
    assert "1 250,00 €" in sms and "\xa0" not in sms and "\u202f" not in sms


def test_a_recipients_locale_is_checked_in_the_rules_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    rule = '[[rule]]\nname = "x"\nnotify = ["a@b.example"]\n'
    path.write_text(rule + '[[recipient]]\naddress = "a@b.example"\nlocale = "de-DE"\n')
    assert load_rules(path, "US", "UTC").locales() == {"a@b.example": "de_DE"}
    path.write_text(rule + '[[recipient]]\naddress = "a@b.example"\nlocale = "klingon"\n')
    with pytest.raises(RulesError, match=r"recipient #1: locale: 'klingon' is not a locale"):
        load_rules(path, "US", "UTC")


def test_the_documented_example_folder_passes_the_checks() -> None:
    folder = Path(__file__).parents[2] / "docs" / "templates-example"
    renderer = _renderer(folder)
    check_templates(renderer, folder, ["de_DE", "pl_PL"])
    mail = renderer.email(INVOICE, take_link="https://r.example/take/1")
    assert mail.subject == "[AP] Acme <b>GmbH</b>: INV-1"
    assert "logo.png" in mail.html and "Acme Accounts Payable" in mail.html
    assert renderer.sms(INVOICE, reply_code=2).startswith("[AP] Acme <b>GmbH</b> €1,250.00")


def test_the_browsers_preferred_locale_or_the_default() -> None:
    assert preferred_locale("fr-CH, fr;q=0.9, en;q=0.8") == "fr_CH"
    assert preferred_locale("en;q=0.2, pl;q=0.9") == "pl"
    assert preferred_locale("tlh, *;q=0.5, x;q=abc", "de_DE") == "de_DE"
    assert preferred_locale("", "en_US") == "en_US"


def test_a_polish_sms_is_counted_as_ucs2_and_still_never_cuts_the_link() -> None:
    polish = InvoiceView("7f1c", "FV/7", "Wytwórnia Łódź " * 6, "1250", "PLN")
    two = _renderer(segments=2)
    sms = two.sms(polish, reply_code=3, locale="pl_PL")
    assert sms.startswith("Faktura do weryfikacji: Wytwórnia Łódź")  # Polish, with its ł
    assert encoding(sms) == "UCS-2" and segments(sms) == 2
    assert sms.endswith("https://app.example.com/invoices/7f1c Bierzesz? Odpowiedz 3.")
    # One segment: the vendor goes; `zł` would be UCS-2 too, so the SMS says PLN.
    one = _renderer().sms(polish, reply_code=3, locale="pl_PL")
    assert "1 250,00 PLN https://app.example.com/invoices/7f1c" in one
    assert encoding(one) == "GSM-7" and segments(one) == 1
