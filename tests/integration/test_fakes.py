"""The fake providers, driven over real HTTP by the real ``sendgrid`` and ``twilio`` SDKs."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator

import pytest
import requests
from python_http_client.exceptions import (
    BadRequestsError,
    NotFoundError,
    TooManyRequestsError,
    UnauthorizedError,
)
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import Mail
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.fakes import FakeSendGrid, FakeTwilio, RecordedRequest, Reply
from tests.fakes.contracts import (
    contracts_available,
    validate_sendgrid_request,
    validate_twilio_message,
    validate_twilio_request,
)

SID = "AC" + "5a" * 16
TOKEN = "secret"
TO = "+15551230001"
FROM = "+15557650000"


@pytest.fixture
def sg() -> Iterator[FakeSendGrid]:
    with FakeSendGrid(api_key="SG.test") as fake:
        yield fake


@pytest.fixture
def tw(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTwilio]:
    for var in ("TWILIO_EDGE", "TWILIO_REGION"):  # would rewrite the SDK's host name
        monkeypatch.delenv(var, raising=False)
    with FakeTwilio(account_sid=SID, auth_token=TOKEN) as fake:
        yield fake


def sg_client(fake: FakeSendGrid, key: str = "SG.test", timeout: float = 5.0) -> SendGridAPIClient:
    client = SendGridAPIClient(key, host=fake.url)
    client.client.timeout = timeout  # the SDK has no timeout by default
    return client


def mail(to: str = "ap@example.org", subject: str = "Invoice 42 needs review") -> Mail:
    return Mail(
        from_email="billing@example.com",
        to_emails=to,
        subject=subject,
        plain_text_content="Invoice 42 needs review.",
        html_content="<p>Invoice 42 needs review.</p>",
    )


def tw_client(fake: FakeTwilio, token: str = TOKEN) -> Client:
    client = Client(SID, token)
    client.api.base_url = fake.url
    return client


# --------------------------------------------------------------------------- SendGrid


def test_sendgrid_send_is_accepted_and_recorded(sg: FakeSendGrid) -> None:
    response = sg_client(sg).send(mail())

    assert response.status_code == 202
    assert response.body == b""
    [rec] = sg.accepted()
    assert response.headers["X-Message-Id"] == rec.message_id
    assert len(rec.message_id or "") == 22
    assert rec.method == "POST" and rec.path == "/v3/mail/send"
    assert rec.headers["authorization"] == "Bearer SG.test"  # case-insensitive lookup
    assert rec.recipient == "ap@example.org"
    assert rec.data["subject"] == "Invoice 42 needs review"
    assert rec.status == 202 and rec.responded_at is not None
    assert rec.received_at <= rec.responded_at
    assert sg.accepted_recipients() == ["ap@example.org"]


def test_sendgrid_message_ids_are_unique(sg: FakeSendGrid) -> None:
    client = sg_client(sg)
    ids = {client.send(mail()).headers["X-Message-Id"] for _ in range(5)}
    assert len(ids) == 5
    assert sg.accepted_recipients() == ["ap@example.org"] * 5


@pytest.mark.skipif(not contracts_available(), reason="provider contracts not available")
def test_sendgrid_request_matches_official_contract(sg: FakeSendGrid) -> None:
    sg_client(sg).send(mail())
    data = validate_sendgrid_request(sg.accepted()[0])
    assert data["from"] == {"email": "billing@example.com"}

    bad = RecordedRequest(
        "POST",
        "/v3/mail/send",
        {"Authorization": "Bearer x", "Content-Type": "application/json"},
        json.dumps({"personalizations": [{"to": [{"email": "not-an-address"}]}]}).encode(),
        0.0,
    )
    with pytest.raises(AssertionError, match="'from' is a required property"):
        validate_sendgrid_request(bad)


def test_sendgrid_wrong_key_is_unauthorized(sg: FakeSendGrid) -> None:
    with pytest.raises(UnauthorizedError) as err:
        sg_client(sg, key="SG.wrong").send(mail())

    assert err.value.status_code == 401
    assert err.value.to_dict["errors"][0]["message"] == (
        "The provided authorization grant is invalid, expired, or revoked"
    )
    assert sg.accepted() == []
    assert [r.status for r in sg.wait_for(1, accepted=False)] == [401]


def test_sendgrid_scripted_429_shows_retry_after_then_recovers(sg: FakeSendGrid) -> None:
    sg.script(Reply(429, headers={"Retry-After": "2"}))
    client = sg_client(sg)

    with pytest.raises(TooManyRequestsError) as err:
        client.send(mail())
    assert err.value.status_code == 429
    assert err.value.headers["Retry-After"] == "2"
    assert err.value.to_dict == {
        "errors": [{"message": "too many requests", "field": None, "help": None}]
    }

    assert client.send(mail()).status_code == 202  # the script is used up
    assert [r.status for r in sg.requests] == [429, 202]
    assert sg.accepted_recipients() == ["ap@example.org"]


def test_sendgrid_rejects_incomplete_mail(sg: FakeSendGrid) -> None:
    client = sg_client(sg)
    no_subject = mail().get()
    del no_subject["subject"]
    with pytest.raises(BadRequestsError) as err:
        client.send(no_subject)
    assert [e["field"] for e in err.value.to_dict["errors"]] == ["subject"]

    plain_only = Mail("billing@example.com", "ap@example.org", "Hi", plain_text_content="x")
    with pytest.raises(BadRequestsError, match="400"):
        client.send(plain_only)
    sg.required_content_types = ()
    assert client.send(plain_only).status_code == 202


def test_sendgrid_other_paths_are_404(sg: FakeSendGrid) -> None:
    client = sg_client(sg)
    with pytest.raises(NotFoundError):
        client.client.templates.get()
    # A host with a trailing slash makes the SDK request '//v3/mail/send'.
    with pytest.raises(NotFoundError):
        SendGridAPIClient("SG.test", host=sg.url + "/").send(mail())
    assert [r.path for r in sg.requests] == ["/v3/templates", "//v3/mail/send"]


def test_fail_recipient_answers_every_request_for_it(sg: FakeSendGrid) -> None:
    sg.fail_recipient("bounce@example.org", Reply(400, body={"errors": [{"message": "no"}]}))
    client = sg_client(sg)
    for _ in range(2):
        with pytest.raises(BadRequestsError) as err:
            client.send(mail(to="bounce@example.org"))
        assert err.value.to_dict == {"errors": [{"message": "no"}]}
    client.send(mail(to="ok@example.org"))

    assert sg.accepted_recipients() == ["ok@example.org"]
    sg.fail_recipient("bounce@example.org", None)
    assert client.send(mail(to="bounce@example.org")).status_code == 202


def test_responder_script_order_and_reset(sg: FakeSendGrid) -> None:
    sg.responder = lambda rec: Reply(500) if "boom" in rec.data.get("subject", "") else None
    sg.script(Reply(503))
    client = sg_client(sg)

    with pytest.raises(Exception, match="503"):
        client.send(mail())  # the script comes before the responder
    with pytest.raises(Exception, match="500"):
        client.send(mail(subject="boom"))
    assert client.send(mail()).status_code == 202
    assert [r.status for r in sg.requests] == [503, 500, 202]

    sg.script(Reply(503))
    sg.reset()
    assert sg.requests == [] and sg.scripted == 0 and sg.responder is None
    assert client.send(mail(subject="boom")).status_code == 202


def test_delay_applies_to_normal_and_scripted_answers(sg: FakeSendGrid) -> None:
    client = sg_client(sg)
    sg.delay = 0.2
    start = time.monotonic()
    client.send(mail())
    assert time.monotonic() - start >= 0.2

    sg.delay = 0.0
    sg.script(Reply(0, delay=0.15))  # status 0: the normal answer, late
    start = time.monotonic()
    assert client.send(mail()).status_code == 202
    assert time.monotonic() - start >= 0.15


def test_sendgrid_dropped_connection_is_a_connection_error(sg: FakeSendGrid) -> None:
    sg.script(Reply(drop=True))
    with pytest.raises(OSError):  # http.client.RemoteDisconnected from urllib
        sg_client(sg).send(mail())
    [rec] = sg.requests
    assert rec.status == 0 and rec.message_id is None
    assert sg.accepted() == []


def test_hang_times_out_the_client_and_close_releases_it() -> None:
    fake = FakeSendGrid()
    fake.script(Reply(hang=30))
    start = time.monotonic()
    with pytest.raises(OSError):  # TimeoutError
        sg_client(fake, timeout=0.3).send(mail())
    assert 0.3 <= time.monotonic() - start < 5
    [rec] = fake.requests
    assert rec.status == 0 and rec.responded_at is None

    start = time.monotonic()
    fake.close()
    assert time.monotonic() - start < 2
    assert fake.closed
    fake.close()  # idempotent


def test_wait_for_returns_when_enough_arrive(sg: FakeSendGrid) -> None:
    client = sg_client(sg)
    sender = threading.Thread(
        target=lambda: [client.send(mail(f"u{i}@example.org")) for i in range(3)]
    )
    sender.start()
    got = sg.wait_for(3, timeout=5)
    sender.join()
    assert [r.recipient for r in got] == [f"u{i}@example.org" for i in range(3)]


def test_wait_for_times_out_with_a_useful_message(sg: FakeSendGrid) -> None:
    with pytest.raises(UnauthorizedError):
        sg_client(sg, key="nope").send(mail())
    start = time.monotonic()
    with pytest.raises(AssertionError, match=r"expected at least 1 accepted .*got 0.*-> 401"):
        sg.wait_for(1, timeout=0.2)
    assert 0.2 <= time.monotonic() - start < 1
    assert len(sg.wait_for(1, timeout=0.2, accepted=False)) == 1


def test_keep_alive_serves_several_requests_on_one_connection(sg: FakeSendGrid) -> None:
    conn = http.client.HTTPConnection(sg.host, sg.port, timeout=5)
    body = json.dumps(mail().get())
    headers = {"Authorization": "Bearer SG.test", "Content-Type": "application/json"}
    for _ in range(3):
        conn.request("POST", "/v3/mail/send", body=body, headers=headers)
        response = conn.getresponse()
        assert response.status == 202 and response.read() == b""
        assert response.getheader("Connection") is None
    conn.close()
    assert len(sg.accepted()) == 3


def test_reply_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        Reply(42)
    with pytest.raises(ValueError):
        Reply(delay=-1)


# --------------------------------------------------------------------------- Twilio


def test_twilio_create_message_is_accepted_and_recorded(tw: FakeTwilio) -> None:
    message = tw_client(tw).messages.create(to=TO, from_=FROM, body="Invoice 42 needs review")

    assert message.sid.startswith("SM") and len(message.sid) == 34
    assert message.status == "queued"
    assert message.to == TO and message.from_ == FROM
    assert message.account_sid == SID
    assert message.num_segments == "1"
    assert message.date_created is not None
    [rec] = tw.accepted()
    assert rec.status == 201 and rec.message_id == message.sid
    assert rec.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert rec.data == {"To": TO, "From": FROM, "Body": "Invoice 42 needs review"}
    assert tw.accepted_recipients() == [TO]


def test_twilio_messaging_service_and_sdk_client_helper(tw: FakeTwilio) -> None:
    service = "MG" + "0" * 32
    message = tw.sdk_client().messages.create(to=TO, messaging_service_sid=service, body="ж" * 71)
    assert message.messaging_service_sid == service
    assert message.num_segments == "2"  # UCS-2: 70 chars per single segment
    assert tw.accepted()[0].data["MessagingServiceSid"] == service


@pytest.mark.skipif(not contracts_available(), reason="provider contracts not available")
def test_twilio_request_and_answer_match_official_contract(tw: FakeTwilio) -> None:
    client = tw_client(tw)
    client.messages.create(to=TO, from_=FROM, body="hi", attempt=2, send_as_mms=False)
    fields = validate_twilio_request(tw.accepted()[0], strict=True)
    assert fields["Attempt"] == 2 and fields["SendAsMms"] is False

    validate_twilio_message(json.loads(client.http_client._test_only_last_response.text))

    no_body = RecordedRequest(
        "POST",
        f"/2010-04-01/Accounts/{SID}/Messages.json",
        {"Authorization": "Basic x", "Content-Type": "application/x-www-form-urlencoded"},
        b"To=%2B15551230001&From=%2B15557650000&Atempt=1",
        0.0,
    )
    with pytest.raises(AssertionError, match="Atempt: not a field") as err:
        validate_twilio_request(no_body, strict=True)
    assert "one of Body, MediaUrl, ContentSid is required" in str(err.value)


def test_twilio_wrong_token_is_20003(tw: FakeTwilio) -> None:
    with pytest.raises(TwilioRestException) as err:
        tw_client(tw, token="wrong").messages.create(to=TO, from_=FROM, body="hi")
    assert err.value.status == 401
    assert err.value.code == 20003
    assert tw.accepted() == []


def test_twilio_invalid_number_is_21211(tw: FakeTwilio) -> None:
    tw.invalid_numbers.add("+15550000000")
    client = tw_client(tw)
    with pytest.raises(TwilioRestException) as err:
        client.messages.create(to="+15550000000", from_=FROM, body="hi")
    assert err.value.status == 400
    assert err.value.code == 21211
    assert "+15550000000 is not a valid phone number" in err.value.msg
    client.messages.create(to=TO, from_=FROM, body="hi")
    assert tw.accepted_recipients() == [TO]


def test_twilio_missing_body_is_21602(tw: FakeTwilio) -> None:
    with pytest.raises(TwilioRestException) as err:
        tw_client(tw).messages.create(to=TO, from_=FROM)
    assert (err.value.status, err.value.code) == (400, 21602)


def test_twilio_scripted_429(tw: FakeTwilio) -> None:
    tw.script(Reply(429, headers={"Retry-After": "2"}))
    client = tw_client(tw)
    with pytest.raises(TwilioRestException) as err:
        client.messages.create(to=TO, from_=FROM, body="hi")
    assert (err.value.status, err.value.code) == (429, 20429)
    # TwilioRestException carries no headers; the SDK's HTTP client keeps the last response.
    assert client.http_client._test_only_last_response.headers["Retry-After"] == "2"


def test_twilio_dropped_connection_is_a_connection_error(tw: FakeTwilio) -> None:
    tw.script(Reply(drop=True))
    with pytest.raises(requests.exceptions.ConnectionError):
        tw_client(tw).messages.create(to=TO, from_=FROM, body="hi")
    assert [r.status for r in tw.requests] == [0]


def test_twilio_hang_is_a_read_timeout(tw: FakeTwilio) -> None:
    tw.script(Reply(hang=30))
    with pytest.raises(requests.exceptions.ReadTimeout):
        tw.sdk_client(timeout=0.3).messages.create(to=TO, from_=FROM, body="hi")


def test_twilio_other_paths_are_404(tw: FakeTwilio) -> None:
    with pytest.raises(TwilioRestException) as err:
        tw_client(tw).calls.create(to=TO, from_=FROM, url="https://example.com/twiml")
    assert (err.value.status, err.value.code) == (404, 20404)


def test_twilio_scripted_success_status_still_gets_a_sid(tw: FakeTwilio) -> None:
    tw.script(Reply(200, headers={"X-Extra": "1"}))
    message = tw_client(tw).messages.create(to=TO, from_=FROM, body="hi")
    assert message.sid == tw.accepted()[0].message_id


def test_concurrent_sdk_clients_get_unique_sids(tw: FakeTwilio) -> None:
    per_thread, threads = 25, 8

    def send(k: int) -> None:
        client = tw_client(tw)
        for i in range(per_thread):
            client.messages.create(to=f"+1555{k:03d}{i:04d}", from_=FROM, body="hi")

    workers = [threading.Thread(target=send, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    got = tw.wait_for(per_thread * threads, timeout=10)
    for w in workers:
        w.join()
    assert len({r.message_id for r in got}) == per_thread * threads
    assert len(set(tw.accepted_recipients())) == per_thread * threads
