"""The fake Twilio of the SMS tests, checked on its own: what a service test asserts through it must be true."""
import base64
import datetime
import email.utils
import http.client
import json
import re
import socket
import threading
import time
import urllib.parse

import pytest

from fake_twilio import FakeTwilio, max_in_window, segments

SENDER = "+15005550006"
ALICE = "+14155550101"
BOB = "+14155550102"


class Caller:
    """Speaks to the fake as the service would: one kept-alive connection, basic auth, form bodies."""

    def __init__(self, fake, sid=None, token=None, timeout=10):
        self.fake = fake
        self.sid = sid or fake.account_sid
        credentials = f"{self.sid}:{token or fake.auth_token}".encode()
        self.auth = "Basic " + base64.b64encode(credentials).decode()
        self.timeout = timeout
        self.connection = None

    def request(self, method, path, form=None, auth=True):
        if self.connection is None:
            self.connection = http.client.HTTPConnection("127.0.0.1", self.fake.port, timeout=self.timeout)
        headers = {"Authorization": self.auth} if auth else {}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
            payload = json.loads(response.read())
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        return response.status, payload, response

    def send(self, to, body="Dinner at 7?", **extra):
        form = {"To": to, "From": SENDER, "Body": body}
        form.update(extra)
        form = {name: value for name, value in form.items() if value is not None}
        return self.request("POST", f"/2010-04-01/Accounts/{self.sid}/Messages.json", form)

    def list(self, **query):
        path = f"/2010-04-01/Accounts/{self.sid}/Messages.json"
        if query:
            path += "?" + urllib.parse.urlencode(query)
        return self.request("GET", path)

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None


@pytest.fixture
def fake():
    server = FakeTwilio(rate_limit=100).start()
    yield server
    server.stop()


@pytest.fixture
def caller(fake):
    client = Caller(fake)
    yield client
    client.close()


def test_a_message_is_created_with_twilio_fields(fake, caller):
    status, message, _ = caller.send(ALICE, "Pasta tonight", StatusCallback="https://example.test/cb")
    assert status == 201
    assert re.fullmatch(r"SM[0-9a-f]{32}", message["sid"])
    assert message["status"] == "queued"
    assert (message["to"], message["from"], message["body"]) == (ALICE, SENDER, "Pasta tonight")
    assert message["account_sid"] == fake.account_sid
    assert message["price"] is None and message["price_unit"] == "USD"
    assert message["num_segments"] == "1"
    for field in ("date_created", "date_sent", "date_updated"):
        assert re.fullmatch(r"[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000", message[field])
        moment = email.utils.parsedate_to_datetime(message[field])
        assert abs(moment.timestamp() - time.time()) < 5
    assert fake.accepted_per_to() == {ALICE: 1}
    assert fake.message(message["sid"])["body"] == "Pasta tonight"
    [record] = fake.posts()
    assert (record.to, record.body, record.status, record.outcome, record.sid) == (
        ALICE, "Pasta tonight", 201, "created", message["sid"])

    # A messaging service instead of a sender number: `accepted`, no `from` yet, as Twilio answers.
    mg = "MG" + "0" * 32
    status, message, _ = caller.send(BOB, "x", From=None, MessagingServiceSid=mg)
    assert status == 201 and message["status"] == "accepted" and message["from"] is None
    assert message["messaging_service_sid"] == mg


def test_credentials_and_the_account_in_the_path_are_checked(fake, caller):
    status, error, response = caller.request("POST", fake.messages_path, {"To": ALICE, "From": SENDER, "Body": "x"},
                                             auth=False)
    assert status == 401 and error["code"] == 20003 and error["status"] == 401
    assert error["more_info"] == "https://www.twilio.com/docs/errors/20003"
    assert response.getheader("WWW-Authenticate")
    wrong_token = Caller(fake, token="0" * 32)
    assert wrong_token.send(ALICE)[0:2] == (401, error)
    assert wrong_token.list()[0] == 401
    wrong_token.close()
    # Good credentials, another account's path.
    status, error, _ = caller.request("POST", "/2010-04-01/Accounts/AC" + "1" * 32 + "/Messages.json",
                                      {"To": ALICE, "From": SENDER, "Body": "x"})
    assert status == 404 and error["code"] == 20404
    assert fake.messages() == []
    assert [record.outcome for record in fake.posts()] == ["unauthorized", "unauthorized", "invalid"]


@pytest.mark.parametrize("form,code", [
    ({"From": SENDER, "Body": "x"}, 21604),
    ({"To": "4155550101", "From": SENDER, "Body": "x"}, 21211),
    ({"To": ALICE, "Body": "x"}, 21603),
    ({"To": ALICE, "From": SENDER}, 21602),
    ({"To": ALICE, "From": SENDER, "Body": "x" * 1601}, 21617),
])
def test_a_bad_request_is_a_twilio_400(fake, caller, form, code):
    status, error, _ = caller.request("POST", fake.messages_path, form)
    assert status == 400 and error["code"] == code and error["status"] == 400
    assert fake.messages() == []


def test_segments_follow_gsm7_and_ucs2():
    assert segments("a" * 160) == (1, "gsm7")
    assert segments("a" * 161) == (2, "gsm7")
    assert segments("a" * 306) == (2, "gsm7")
    assert segments("a" * 307) == (3, "gsm7")
    assert segments("€" * 80) == (1, "gsm7")  # two septets each
    assert segments("€" * 81) == (2, "gsm7")
    assert segments("é" * 160) == (1, "gsm7")  # é is in the basic set
    assert segments("ê" * 70) == (1, "ucs2")  # ê is not
    assert segments("ê" * 71) == (2, "ucs2")
    assert segments("🍲" * 35) == (1, "ucs2")  # two UTF-16 units each
    assert segments("🍲" * 36) == (2, "ucs2")


def test_the_account_limit_answers_429_over_the_sliding_window():
    with FakeTwilio(rate_limit=5) as fake:
        caller = Caller(fake)
        answers = [caller.send(ALICE, f"n{index}") for index in range(8)]
        assert [status for status, _, _ in answers] == [201] * 5 + [429] * 3
        status, error, response = answers[-1]
        assert error == {"code": 20429, "message": "Too Many Requests",
                         "more_info": "https://www.twilio.com/docs/errors/20429", "status": 429}
        assert response.getheader("Retry-After") == "1"
        assert len(fake.rate_limited()) == 3 and len(fake.responses(429)) == 3
        assert fake.accepted_per_to() == {ALICE: 5}
        assert fake.max_in_window(1.0) == 8  # refused POSTs were still POSTs

        # Once the window has slid past them, POSTs are accepted again.
        time.sleep(1.05)
        assert caller.send(ALICE)[0] == 201
        caller.close()


def test_a_steady_rate_under_the_limit_is_never_refused():
    with FakeTwilio(rate_limit=20) as fake:
        caller = Caller(fake)
        started = time.monotonic()
        for index in range(30):  # 15/s for 2 s
            time.sleep(max(0.0, started + index / 15 - time.monotonic()))
            assert caller.send(BOB, f"n{index}")[0] == 201
        caller.close()
        assert fake.rate_limited() == []
        assert 12 <= fake.max_in_window(1.0) <= 20  # about 15; a busy machine may bunch a few
        histogram = fake.histogram(1.0)
        assert sum(histogram) == 30 and len(histogram) in (2, 3)
        assert 1.8 < fake.last_post_at() - fake.first_post_at() < 3


def test_max_in_window_is_a_sliding_window():
    assert max_in_window([]) == 0
    assert max_in_window([0.0, 0.5, 0.99, 1.0, 1.5]) == 3
    assert max_in_window([0.9, 1.0, 1.1, 1.2, 2.5]) == 4  # across a whole-second boundary
    assert max_in_window([0.0, 1.0, 2.0]) == 1  # [t, t + 1): exactly 1 s apart is two windows


def test_scripted_errors_per_destination(fake, caller):
    fake.reject(ALICE, 21211)
    fake.reject(BOB, 21610)
    carol, dave, erin = "+14155550103", "+14155550104", "+14155550105"
    fake.reject(carol, 21614, times=1)
    fake.fail(dave, 503, times=2)
    fake.throttle(erin, retry_after=2, times=1)

    for _ in range(2):  # no `times`: every POST
        status, error, _ = caller.send(ALICE)
        assert status == 400 and error["code"] == 21211 and "not a valid phone number" in error["message"]
    status, error, _ = caller.send(BOB)
    assert (status, error["code"], error["message"]) == (400, 21610, "Attempt to send to unsubscribed recipient")
    status, error, _ = caller.send(carol)
    assert (status, error["code"], error["message"]) == (400, 21614, "'To' number is not a valid mobile number")
    assert caller.send(carol)[0] == 201  # one time only

    assert [caller.send(dave)[0] for _ in range(3)] == [503, 503, 201]
    status, error, response = caller.send(erin)
    assert (status, error["code"], response.getheader("Retry-After")) == (429, 20429, "2")
    assert caller.send(erin)[0] == 201

    assert fake.accepted_per_to() == {carol: 1, dave: 1, erin: 1}
    assert fake.posts_per_to() == {ALICE: 2, BOB: 1, carol: 2, dave: 3, erin: 2}
    assert [record.code for record in fake.posts(dave)] == [20503, 20503, None]
    assert fake.rate_limited() == [], "scripted 429s are not the account limit"
    assert len(fake.responses(429)) == 1


def test_fail_500_always(fake, caller):
    fake.fail(ALICE, 500, times=None)
    error = {"code": 20500, "message": "Internal Server Error",
             "more_info": "https://www.twilio.com/docs/errors/20500", "status": 500}
    assert [caller.send(ALICE)[0:2] for _ in range(3)] == [(500, error)] * 3
    assert fake.messages() == []


def test_a_hang_creates_nothing_and_accept_then_hang_creates_the_message(fake):
    fake.hang(ALICE, 1.0)
    fake.accept_then_hang(BOB, 1.0)
    impatient = Caller(fake, timeout=0.3)
    for number in (ALICE, BOB):
        started = time.monotonic()
        with pytest.raises((socket.timeout, TimeoutError)):
            impatient.send(number, "Are you there?")
        assert time.monotonic() - started < 0.9
    impatient.close()
    assert fake.accepted_per_to() == {BOB: 1}
    [hung] = fake.posts(ALICE)
    assert (hung.outcome, hung.sid, hung.status) == ("hung", None, 503)
    [accepted] = fake.posts(BOB)
    assert accepted.outcome == "accepted_then_hung" and accepted.sid
    # The list shows it: this is how a caller that timed out finds out the message exists.
    caller = Caller(fake)
    status, page, _ = caller.list(To=BOB)
    assert status == 200 and [message["sid"] for message in page["messages"]] == [accepted.sid]

    # A patient caller gets the answer after the wait; the steps were used up, so the next POSTs are plain.
    fake.hang(ALICE, 0.3)
    fake.accept_then_hang(BOB, 0.3)
    started = time.monotonic()
    assert caller.send(ALICE)[0] == 503
    status, message, _ = caller.send(BOB)
    assert status == 201 and message["to"] == BOB
    assert time.monotonic() - started >= 0.6
    assert caller.send(ALICE)[0] == 201 and caller.send(BOB)[0] == 201
    caller.close()


def test_stop_releases_a_hanging_request():
    fake = FakeTwilio().start()
    fake.hang(ALICE, 60)
    caller = Caller(fake, timeout=30)
    outcome = []
    thread = threading.Thread(target=lambda: outcome.append(_try(caller.send, ALICE)), daemon=True)
    thread.start()
    fake.wait_for(lambda f: f.posts(ALICE), timeout=5)
    started = time.monotonic()
    fake.stop()
    thread.join(10)
    assert not thread.is_alive() and time.monotonic() - started < 5


def _try(function, *args):
    try:
        return function(*args)
    except Exception as error:  # noqa: BLE001 - any outcome will do
        return error


def _sids(pages):
    return [message["sid"] for page in pages for message in page["messages"]]


def test_the_list_filters_newest_first_and_pages(fake, caller):
    sent_to_alice = [caller.send(ALICE, f"alice {index}")[1]["sid"] for index in range(7)]
    caller.send(BOB, "bob")

    status, page, _ = caller.list(To=ALICE)
    assert status == 200
    assert [message["sid"] for message in page["messages"]] == sent_to_alice[::-1]
    assert page["page"] == 0 and page["page_size"] == 50 and page["next_page_uri"] is None
    assert page["uri"].startswith(fake.messages_path + "?")
    assert len(caller.list()[1]["messages"]) == 8

    # Pages of 3 through next_page_uri: every message once, newest first.
    pages = [caller.list(To=ALICE, PageSize=3)[1]]
    while pages[-1]["next_page_uri"]:
        status, following, _ = caller.request("GET", pages[-1]["next_page_uri"])
        assert status == 200
        pages.append(following)
    assert [len(page["messages"]) for page in pages] == [3, 3, 1]
    assert [page["page"] for page in pages] == [0, 1, 2]
    assert _sids(pages) == sent_to_alice[::-1]
    assert "To=%2B14155550101" in pages[0]["next_page_uri"] and "PageToken=PA" in pages[0]["next_page_uri"]
    status, previous, _ = caller.request("GET", pages[2]["previous_page_uri"])
    assert status == 200 and _sids([previous]) == _sids([pages[1]])

    # A message created between two page reads does not shift the next page (the token anchors on a sid).
    first = caller.list(To=ALICE, PageSize=3)[1]
    caller.send(ALICE, "late")
    second = caller.request("GET", first["next_page_uri"])[1]
    assert _sids([second]) == _sids([pages[1]])

    status, error, _ = caller.list(To=ALICE, PageToken="PAnope")
    assert status == 400 and error["code"] == 20001
    assert caller.list(PageSize=0)[0] == 400 and caller.list(PageSize=1001)[0] == 400
    assert [record.to for record in fake.list_calls()][:2] == [ALICE, None]


def test_with_a_list_lag_a_new_message_is_listed_only_after_it():
    with FakeTwilio(list_lag=0.5) as fake:
        caller = Caller(fake)
        sid = caller.send(ALICE, "Soon listed")[1]["sid"]
        assert caller.list(To=ALICE)[1]["messages"] == []
        # The message itself is there at once.
        status, message, _ = caller.request("GET", f"/2010-04-01/Accounts/{fake.account_sid}/Messages/{sid}.json")
        assert status == 200 and message["sid"] == sid
        time.sleep(0.6)
        assert [message["sid"] for message in caller.list(To=ALICE)[1]["messages"]] == [sid]
        caller.close()


def test_smart_encoding_replaces_look_alikes_only_when_the_whole_body_becomes_gsm7():
    with FakeTwilio(smart_encoding=True) as fake:
        caller = Caller(fake)
        posted = "Here\u2019s \u201ctonight\u2019s\u201d plan \u2014 pasta\u2026\u00a0OK?"
        status, message, _ = caller.send(ALICE, posted)
        assert status == 201 and message["body"] == "Here's \"tonight's\" plan - pasta... OK?"
        assert message["num_segments"] == "1"
        assert caller.list(To=ALICE)[1]["messages"][0]["body"] == message["body"]
        # An emoji has no GSM-7 look-alike: the body goes as it is.
        status, message, _ = caller.send(BOB, "Soup \u2014 \U0001F372")
        assert message["body"] == "Soup \u2014 \U0001F372"
        # What was posted is recorded as posted.
        assert fake.posts(ALICE)[0].body == posted
        caller.close()


def test_the_list_filters_on_the_utc_date_sent():
    now = [time.time()]
    with FakeTwilio(clock=lambda: now[0]) as fake:
        caller = Caller(fake)
        today = datetime.datetime.fromtimestamp(now[0], datetime.timezone.utc).date()
        yesterday = today - datetime.timedelta(days=1)
        now[0] -= 86400
        old = caller.send(ALICE, "yesterday")[1]
        now[0] += 86400
        new = caller.send(ALICE, "today")[1]
        assert email.utils.parsedate_to_datetime(old["date_sent"]).date() == yesterday

        def sids(**query):
            status, page, _ = caller.list(To=ALICE, **query)
            assert status == 200, page
            return [message["sid"] for message in page["messages"]]

        assert sids(DateSent=today.isoformat()) == [new["sid"]]
        assert sids(DateSent=yesterday.isoformat()) == [old["sid"]]
        assert sids(**{"DateSent>": today.isoformat()}) == [new["sid"]]  # on or after
        assert sids(**{"DateSent>": yesterday.isoformat()}) == [new["sid"], old["sid"]]
        assert sids(**{"DateSent<": yesterday.isoformat()}) == [old["sid"]]  # on or before
        assert sids(**{"DateSent>": yesterday.isoformat(), "DateSent<": yesterday.isoformat()}) == [old["sid"]]
        assert sids(DateSent=(today + datetime.timedelta(days=1)).isoformat()) == []
        # Twilio's own spelling puts the operator before '=': DateSent>=YYYY-MM-DD.
        status, page, _ = caller.request("GET", fake.messages_path + f"?To=%2B14155550101&DateSent>={today}")
        assert status == 200 and [m["sid"] for m in page["messages"]] == [new["sid"]]
        assert caller.list(DateSent="29/11/2026")[0] == 400
        caller.close()


def test_one_message_by_sid_and_status_changes(fake, caller):
    sid = caller.send(ALICE, "€ and more")[1]["sid"]
    status, message, _ = caller.request("GET", f"/2010-04-01/Accounts/{fake.account_sid}/Messages/{sid}.json")
    assert status == 200 and message["sid"] == sid
    assert caller.request("GET", f"/2010-04-01/Accounts/{fake.account_sid}/Messages/SM{'0' * 32}.json")[0] == 404
    delivered = fake.set_status(sid, "delivered")
    assert delivered["status"] == "delivered" and delivered["price"] == "-0.00790"
    params = fake.status_callback_params(sid)
    assert params["MessageSid"] == sid and params["MessageStatus"] == "delivered" and params["To"] == ALICE
    assert fake.status_callback_params(sid, "undelivered", 30003)["ErrorCode"] == "30003"


def test_reset_forgets_everything(fake, caller):
    fake.reject(ALICE, 21211)
    caller.send(ALICE)
    caller.send(BOB)
    caller.list()
    fake.reset()
    assert fake.posts() == [] and fake.messages() == [] and fake.list_calls() == []
    assert caller.send(ALICE)[0] == 201


def test_concurrent_callers_on_many_connections():
    with FakeTwilio(rate_limit=1000) as fake:
        errors = []

        def send(index):
            caller = Caller(fake)
            try:
                for number in range(10):
                    status, _, _ = caller.send(f"+1415555{index:02d}{number:02d}", "hi")
                    if status != 201:
                        errors.append(status)
            except Exception as error:  # noqa: BLE001 - reported below
                errors.append(error)
            finally:
                caller.close()

        threads = [threading.Thread(target=send, args=(index,)) for index in range(40)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert not errors
        assert len(fake.messages()) == 400 and len(set(fake.accepted_per_to())) == 400
        assert len({record.client_port for record in fake.posts()}) == 40
