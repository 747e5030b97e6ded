"""A fake of Twilio's Messages REST API for the SMS tests: standard library only, on 127.0.0.1, in a thread.

    fake = FakeTwilio(rate_limit=100).start()
    env = fake.env()            # TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, JULES_TWILIO_API_URL, JULES_SMS_FROM
    fake.reject("+14155550101", 21211)
    ...
    fake.accepted_per_to()      # Counter: messages created per To
    fake.stop()

What it serves, under /2010-04-01/Accounts/{AccountSid}:

- POST Messages.json (form: To, From or MessagingServiceSid, Body, StatusCallback): HTTP basic auth with the
  account sid and auth token (else 401, Twilio error 20003); the sid in the path must be the account's (else 404,
  20404). An account-wide limit of `rate_limit` POSTs in any sliding `window` seconds: a POST that would exceed it is
  answered 429 (error 20429) with `Retry-After: 1` and creates nothing. Otherwise, unless the destination has a
  scripted behaviour (below), a message is created: 201 with the message resource, status `queued` (`accepted`
  when only a MessagingServiceSid is given, as Twilio does), dates in RFC 2822, price null.
- GET Messages.json: the account's messages, newest first, filtered by To, From, DateSent (YYYY-MM-DD, the UTC date
  of date_sent), DateSent> (on or after) and DateSent< (on or before); PageSize (default 50, at most 1000), paged
  through next_page_uri / previous_page_uri (Page and a PageToken anchored on a message sid). With `list_lag`, a
  message shows in the list only that many seconds after it was created, as Twilio's list can lag behind.
- With `smart_encoding`, a body is stored (and answered, and listed) as Twilio's Smart Encoding sends it: curly
  quotes, dashes, the ellipsis and unusual spaces replaced by GSM-7 look-alikes, invisible characters dropped, when
  that makes the whole body GSM-7 (see `smart_encode`).
- GET Messages/{MessageSid}.json: one message.

Scripted behaviour, per destination number, consumed in order, one step per POST to that number (after the
account limit let it through): `reject` (a Twilio 4xx error), `fail` (500/503), `throttle` (429 with a
Retry-After), `hang` (wait, create nothing, then 503) and `accept_then_hang` (create the message, then wait before
answering 201: the caller cannot know the message exists). A step with `times=None` applies to every POST.

Every POST is recorded (arrival time, To, Body, the answer) and every list call too, so that tests can assert what
the service did: messages per To, the most POSTs in any 1 s window, the 429s, a per-second histogram.

Times: `at` fields are time.monotonic() values (comparable with the test's own), message dates come from `clock`
(time.time by default; a test may pass its own to create messages "yesterday").
"""
from __future__ import annotations

import base64
import collections
import dataclasses
import datetime
import email.utils
import json
import math
import re
import secrets
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API_VERSION = "2010-04-01"
ERROR_DOCS = "https://www.twilio.com/docs/errors/"

# Twilio error codes the fake answers with, and their usual messages (status, message).
ERRORS = {
    20001: (400, "Invalid parameter"),
    20003: (401, "Authenticate"),
    20404: (404, "The requested resource was not found"),
    20429: (429, "Too Many Requests"),
    20500: (500, "Internal Server Error"),
    20503: (503, "Service Unavailable"),
    21211: (400, "The 'To' number is not a valid phone number."),
    21602: (400, "Message body is required."),
    21603: (400, "A 'From' or 'MessagingServiceSid' parameter is required to send a message."),
    21604: (400, "A 'To' phone number is required."),
    21610: (400, "Attempt to send to unsubscribed recipient"),
    21614: (400, "'To' number is not a valid mobile number"),
    21617: (400, "The concatenated message body exceeds the 1600 character limit."),
}
# The Twilio error code that goes with a bare 5xx status.
SERVER_ERROR_CODES = {500: 20500, 503: 20503}

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
ACCOUNT_PATH = re.compile(r"^/2010-04-01/Accounts/([^/]+)/Messages(?:/([^/]+))?\.json$")

# GSM 03.38: the basic character set (one septet each; the escape 0x1B left out) and the extension table (two
# septets each: the escape, then the character).
GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = set("\f^{}\\[~]|€")


def segments(body: str) -> tuple[int, str]:
    """(number of SMS segments, "gsm7" or "ucs2") for a body: 160 septets in one segment, else 153 per segment;
    70 UTF-16 code units in one segment, else 67 per segment."""
    if all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in body):
        units = sum(2 if char in GSM7_EXTENSION else 1 for char in body)
        single, multi, encoding = 160, 153, "gsm7"
    else:
        units = len(body.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, "ucs2"
    return (1 if units <= single else math.ceil(units / multi)), encoding


# Some of Twilio's Smart Encoding replacements (its table is longer): enough to give a body the shape Twilio lists.
SMART_ENCODING = {
    **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u02bc", "'"),
    **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb", '"'),
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015", "-"),
    "\u2026": "...",
    **dict.fromkeys("\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000",
                    " "),
    **dict.fromkeys("\u200b\u2060\ufeff", ""),
}


def smart_encode(body: str) -> str:
    """The body as Twilio's Smart Encoding sends it: replaced only if that makes the whole body GSM-7."""
    encoded = "".join(SMART_ENCODING.get(char, char) for char in body)
    return encoded if segments(encoded)[1] == "gsm7" else body


def rfc2822(timestamp: float) -> str:
    """A Twilio date: "Mon, 16 Aug 2010 03:45:01 +0000" (UTC, whole seconds)."""
    moment = datetime.datetime.fromtimestamp(int(timestamp), tz=datetime.timezone.utc)
    return email.utils.format_datetime(moment)


def utc_date(timestamp: float) -> str:
    return datetime.datetime.fromtimestamp(timestamp, tz=datetime.timezone.utc).strftime("%Y-%m-%d")


def max_in_window(times, window=1.0) -> int:
    """The most of `times` (seconds) falling in any half-open interval [t, t + window)."""
    ordered = sorted(times)
    best, start = 0, 0
    for end, moment in enumerate(ordered):
        while ordered[start] <= moment - window:
            start += 1
        best = max(best, end - start + 1)
    return best


@dataclasses.dataclass
class Step:
    """One scripted answer for POSTs to a number. `remaining` None: every POST."""

    kind: str  # "error" | "hang" | "accept_then_hang" | "accept_unsent_then_hang"
    remaining: int | None
    status: int = 0
    code: int | None = None
    message: str | None = None
    retry_after: float | None = None
    seconds: float = 0.0


@dataclasses.dataclass
class PostRecord:
    """One POST to Messages.json, as the fake saw it."""

    at: float  # time.monotonic() when the request had been read
    wall: float  # the fake's clock at the same moment
    to: str | None
    body: str | None
    sender: str | None  # From, or MessagingServiceSid when no From
    status: int  # the HTTP status answered (or about to be, for accept_then_hang)
    outcome: str  # created | accepted_then_hung | rate_limited | scripted_error | hung | unauthorized | invalid
    code: int | None = None  # the Twilio error code answered
    sid: str | None = None  # the message created, if any
    client_port: int | None = None  # the caller's TCP port (tells connections, hence processes, apart)
    retry_after: float | None = None

    @property
    def created(self) -> bool:
        return self.sid is not None


@dataclasses.dataclass
class ListRecord:
    """One GET of the message list."""

    at: float
    query: dict
    returned: int
    status: int

    @property
    def to(self) -> str | None:
        return self.query.get("To")


class TwilioError(Exception):
    def __init__(self, code, status=None, message=None, retry_after=None):
        default_status, default_message = ERRORS.get(code, (400, "Error"))
        super().__init__(message or default_message)
        self.code = code
        self.status = status or default_status
        self.message = message or default_message
        self.retry_after = retry_after

    def body(self) -> dict:
        return {"code": self.code, "message": self.message, "more_info": ERROR_DOCS + str(self.code),
                "status": self.status}


class FakeTwilio:
    def __init__(self, account_sid=None, auth_token=None, rate_limit=100, window=1.0, clock=time.time,
                 sender="+15005550006", list_lag=0.0, smart_encoding=False):
        self.account_sid = account_sid or "AC" + secrets.token_hex(16)
        self.auth_token = auth_token or secrets.token_hex(16)
        self.rate_limit = rate_limit  # POSTs per `window` seconds, account-wide; None: no limit
        self.window = window
        self.list_lag = list_lag  # seconds after its creation before a message shows in the list (GET by sid: at once)
        self.smart_encoding = smart_encoding  # bodies kept as Twilio's Smart Encoding sends them
        self.clock = clock
        self.sender = sender
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = None
        self._thread = None
        self.reset()

    # MARK: - Life cycle

    def start(self) -> FakeTwilio:
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                         name="fake-twilio", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server is None:
            return
        self._stopping.set()  # wakes the handlers that hang
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        self._thread.join(5)
        self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def messages_path(self) -> str:
        return f"/{API_VERSION}/Accounts/{self.account_sid}/Messages.json"

    def env(self) -> dict:
        """The service's environment for this fake, sending From `sender`."""
        return {"TWILIO_ACCOUNT_SID": self.account_sid, "TWILIO_AUTH_TOKEN": self.auth_token,
                "JULES_TWILIO_API_URL": self.base_url, "JULES_SMS_FROM": self.sender}

    def reset(self):
        """Forgets messages, records and scripts (the server keeps running)."""
        with self._lock:
            self._messages = {}  # sid -> message resource (what the API returns)
            self._created = {}  # sid -> (clock time, sequence number): the list's order
            self._listed_from = {}  # sid -> time.monotonic() from which the list shows it
            self._sequence = 0
            self._posts = []  # [PostRecord], in arrival order
            self._lists = []  # [ListRecord]
            self._arrivals = collections.deque()  # arrival times of the POSTs inside the rate window
            self._scripts = collections.defaultdict(list)  # To -> [Step]

    # MARK: - Scripting, per destination number

    def _add_step(self, to, step):
        with self._lock:
            self._scripts[to].append(step)

    def reject(self, to, code, status=None, message=None, times=None):
        """Answers a Twilio error (e.g. 21211, 21610, 21614), for every POST to `to` unless `times` is given."""
        error = TwilioError(code, status, message)
        self._add_step(to, Step("error", times, status=error.status, code=code, message=error.message))

    def fail(self, to, status=503, times=1, code=None):
        """Answers a server error (500 or 503) to the next `times` POSTs to `to`."""
        code = code or SERVER_ERROR_CODES.get(status, 20500)
        self._add_step(to, Step("error", times, status=status, code=code, message=ERRORS.get(code, (0, None))[1]))

    def throttle(self, to, retry_after=1, times=1):
        """Answers 429 (error 20429) with `Retry-After: retry_after` to the next `times` POSTs to `to`."""
        self._add_step(to, Step("error", times, status=429, code=20429, message=ERRORS[20429][1],
                                retry_after=retry_after))

    def hang(self, to, seconds, times=1):
        """Waits `seconds` without creating anything, then answers 503, for the next `times` POSTs to `to`."""
        self._add_step(to, Step("hang", times, status=503, code=20503, seconds=seconds))

    def accept_then_hang(self, to, seconds, times=1, sent=True):
        """Creates the message, then waits `seconds` before answering 201, for the next `times` POSTs to `to`.
        With `sent=False` the message stays queued at the fake, with no date_sent (as Twilio's do until they
        go out), so no DateSent filter finds it."""
        self._add_step(to, Step("accept_then_hang" if sent else "accept_unsent_then_hang", times, seconds=seconds))

    def clear_script(self, to=None):
        with self._lock:
            if to is None:
                self._scripts.clear()
            else:
                self._scripts.pop(to, None)

    # MARK: - What happened

    def posts(self, to=None) -> list[PostRecord]:
        with self._lock:
            return [record for record in self._posts if to is None or record.to == to]

    def accepted(self, to=None) -> list[PostRecord]:
        """The POSTs that created a message (accept_then_hang ones included)."""
        return [record for record in self.posts(to) if record.created]

    def accepted_per_to(self) -> collections.Counter:
        return collections.Counter(record.to for record in self.accepted())

    def posts_per_to(self) -> collections.Counter:
        return collections.Counter(record.to for record in self.posts())

    def responses(self, status) -> list[PostRecord]:
        return [record for record in self.posts() if record.status == status]

    def rate_limited(self) -> list[PostRecord]:
        """The POSTs refused by the account-wide limit (scripted 429s not included)."""
        return [record for record in self.posts() if record.outcome == "rate_limited"]

    def messages(self, to=None) -> list[dict]:
        """The messages created, oldest first (copies)."""
        with self._lock:
            ordered = sorted(self._messages, key=lambda sid: self._created[sid])
            return [dict(self._messages[sid]) for sid in ordered if to is None or self._messages[sid]["to"] == to]

    def message(self, sid) -> dict | None:
        with self._lock:
            found = self._messages.get(sid)
            return dict(found) if found else None

    def list_calls(self, to=None) -> list[ListRecord]:
        with self._lock:
            return [record for record in self._lists if to is None or record.to == to]

    def max_in_window(self, window=1.0, records=None) -> int:
        """The most POSTs (all of them, or `records`) that arrived in any sliding `window` seconds."""
        return max_in_window([record.at for record in (self.posts() if records is None else records)], window)

    def histogram(self, bucket=1.0, records=None) -> list[int]:
        """POSTs per `bucket` seconds, from the first one."""
        times = [record.at for record in (self.posts() if records is None else records)]
        if not times:
            return []
        first = min(times)
        counts = [0] * (int((max(times) - first) // bucket) + 1)
        for moment in times:
            counts[int((moment - first) // bucket)] += 1
        return counts

    def first_post_at(self) -> float | None:
        posts = self.posts()
        return min(record.at for record in posts) if posts else None

    def last_post_at(self) -> float | None:
        posts = self.posts()
        return max(record.at for record in posts) if posts else None

    def wait_for(self, condition, timeout=30.0, interval=0.005):
        """Polls `condition(self)` until it is truthy (returned) or `timeout` passes (AssertionError)."""
        deadline = time.monotonic() + timeout
        while True:
            result = condition(self)
            if result:
                return result
            if time.monotonic() >= deadline:
                raise AssertionError(f"fake Twilio: condition not met within {timeout} s")
            time.sleep(interval)

    # MARK: - Moving messages on, as the carrier would

    def set_status(self, sid, status, error_code=None):
        """Sets a message's status (sent, delivered, undelivered, failed); sent and delivered get a price."""
        with self._lock:
            message = self._messages[sid]
            message["status"] = status
            message["date_updated"] = rfc2822(self.clock())
            message["error_code"] = error_code
            if status in ("sent", "delivered") and message["price"] is None:
                message["price"] = f"-{0.0079 * int(message['num_segments']):.5f}"
            return dict(message)

    def status_callback_params(self, sid, status=None, error_code=None) -> dict:
        """The form fields of the status callback Twilio would post for a message (as the webhook adapter would
        pass them on to sms.statusCallback)."""
        message = self.message(sid)
        params = {"MessageSid": sid, "SmsSid": sid, "AccountSid": self.account_sid, "To": message["to"],
                  "From": message["from"] or self.sender, "ApiVersion": API_VERSION,
                  "MessageStatus": status or message["status"], "SmsStatus": status or message["status"]}
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        return params

    # MARK: - Request handling (called from the handler threads)

    def _authorized(self, header) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return secrets.compare_digest(user, self.account_sid) and secrets.compare_digest(password, self.auth_token)

    def _next_step(self, to) -> Step | None:
        """The scripted step for this POST to `to`, used up by one (call with the lock held)."""
        steps = self._scripts.get(to)
        while steps:
            step = steps[0]
            if step.remaining is None:
                return step
            if step.remaining > 0:
                step.remaining -= 1
                return step
            steps.pop(0)
        return None

    def _create(self, form, now, sent=True) -> dict:
        """A new message resource (call with the lock held); `sent` False leaves date_sent null."""
        sid = "SM" + secrets.token_hex(16)
        body = smart_encode(form["Body"]) if self.smart_encoding else form["Body"]
        count, _ = segments(body)
        service = form.get("MessagingServiceSid")
        sender = form.get("From")
        date = rfc2822(now)
        message = {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": date,
            "date_sent": date if sent else None,
            "date_updated": date,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender,
            "messaging_service_sid": service,
            "num_media": "0",
            "num_segments": str(count),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            # Twilio: `accepted` while a messaging service picks the sender, else `queued`.
            "status": "queued" if sender else "accepted",
            "subresource_uris": {"media": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}/Media.json"},
            "to": form["To"],
            "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}.json",
        }
        self._messages[sid] = message
        self._created[sid] = (now, self._sequence)
        self._listed_from[sid] = time.monotonic() + self.list_lag
        self._sequence += 1
        return message

    def handle_post(self, form, client_port) -> tuple[int, dict, dict, float]:
        """(status, JSON body, headers, seconds to wait before answering) for an authorized POST."""
        arrived, now = time.monotonic(), self.clock()
        to, body = form.get("To"), form.get("Body")
        sender = form.get("From") or form.get("MessagingServiceSid")
        record = PostRecord(at=arrived, wall=now, to=to, body=body, sender=sender, status=0, outcome="",
                            client_port=client_port)
        with self._lock:
            self._posts.append(record)
            try:
                self._count_against_limit(arrived)
                self._validate(form)
                step = self._next_step(to)
                delay = 0.0
                if step is not None and step.kind == "error":
                    raise TwilioError(step.code, step.status, step.message, step.retry_after)
                if step is not None and step.kind == "hang":
                    record.status, record.outcome, record.code = step.status, "hung", step.code
                    error = TwilioError(step.code, step.status)
                    return step.status, error.body(), {}, step.seconds
                unsent = step is not None and step.kind == "accept_unsent_then_hang"
                if step is not None and step.kind in ("accept_then_hang", "accept_unsent_then_hang"):
                    record.outcome, delay = "accepted_then_hung", step.seconds
                message = self._create(form, now, sent=not unsent)
                record.status, record.sid = 201, message["sid"]
                record.outcome = record.outcome or "created"
                return 201, dict(message), {}, delay
            except TwilioError as error:
                record.status, record.code, record.retry_after = error.status, error.code, error.retry_after
                if not record.outcome:
                    record.outcome = "scripted_error"
                headers = {}
                if error.retry_after is not None:
                    headers["Retry-After"] = _seconds_text(error.retry_after)
                return error.status, error.body(), headers, 0.0

    def record_refused_post(self, form, status, code, client_port):
        """Records a POST refused before it reached the account (bad credentials or path)."""
        with self._lock:
            self._posts.append(PostRecord(at=time.monotonic(), wall=self.clock(), to=form.get("To"),
                                          body=form.get("Body"), sender=form.get("From"), status=status,
                                          outcome="unauthorized" if status == 401 else "invalid", code=code,
                                          client_port=client_port))

    def _count_against_limit(self, arrived):
        """Counts a POST against the account's limit; TwilioError 20429 if more than `rate_limit` POSTs arrived in
        the last `window` seconds, this one included (call with the lock held)."""
        self._arrivals.append(arrived)
        while self._arrivals and self._arrivals[0] <= arrived - self.window:
            self._arrivals.popleft()
        if self.rate_limit is not None and len(self._arrivals) > self.rate_limit:
            self._posts[-1].outcome = "rate_limited"
            raise TwilioError(20429, 429, retry_after=1)

    def _validate(self, form):
        to, body = form.get("To"), form.get("Body")
        if not to:
            raise TwilioError(21604)
        if not E164.match(to):
            raise TwilioError(21211, message=f"The 'To' number {to} is not a valid phone number.")
        if not form.get("From") and not form.get("MessagingServiceSid"):
            raise TwilioError(21603)
        if not body:
            raise TwilioError(21602)
        if len(body) > 1600:
            raise TwilioError(21617)

    def handle_list(self, query, path) -> tuple[int, dict]:
        """(status, JSON body) for GET Messages.json."""
        arrived = time.monotonic()
        filters = {name: values[-1] for name, values in query.items() if name not in ("Page", "PageSize",
                                                                                        "PageToken")}
        record = ListRecord(at=arrived, query={name: values[-1] for name, values in query.items()}, returned=0,
                            status=200)
        with self._lock:
            self._lists.append(record)
            try:
                page_size = _int_param(query, "PageSize", 50, 1, 1000)
                page = _int_param(query, "Page", 0, 0, 1_000_000)
                for name in ("DateSent", "DateSent>", "DateSent<"):
                    if name in filters and not DATE.match(filters[name]):
                        raise TwilioError(20001, message=f"Invalid {name}: {filters[name]}")
                ordered = sorted((sid for sid in self._messages
                                  if self._listed_from[sid] <= arrived and self._matches(sid, filters)),
                                 key=lambda sid: self._created[sid], reverse=True)  # newest first
                token = query.get("PageToken", [None])[-1]
                if token is None:
                    chunk = ordered[page * page_size:(page + 1) * page_size]
                else:
                    chunk = self._page_at(ordered, token, page_size)
                messages = [dict(self._messages[sid]) for sid in chunk]
            except TwilioError as error:
                record.status = error.status
                return error.status, error.body()
            record.returned = len(messages)

        def uri(page_number, page_token=None):
            items = list(filters.items()) + [("PageSize", page_size), ("Page", page_number)]
            if page_token:
                items.append(("PageToken", page_token))
            return path + "?" + urllib.parse.urlencode(items)

        older = chunk and ordered.index(chunk[-1]) < len(ordered) - 1
        newer = chunk and ordered.index(chunk[0]) > 0
        start = page * page_size
        return 200, {
            "messages": messages,
            "page": page,
            "page_size": page_size,
            "start": start,
            "end": start + max(len(messages) - 1, 0),
            "uri": uri(page, token),
            "first_page_uri": uri(0),
            "next_page_uri": uri(page + 1, "PA" + chunk[-1]) if older else None,
            "previous_page_uri": uri(max(page - 1, 0), "PB" + chunk[0]) if newer and page > 0 else None,
        }

    def _matches(self, sid, filters) -> bool:
        message = self._messages[sid]
        # date_sent is the creation time here, or null for a message still queued (no DateSent filter finds it).
        sent = utc_date(self._created[sid][0]) if message["date_sent"] else None
        if sent is None and any(name in filters for name in ("DateSent", "DateSent>", "DateSent<")):
            return False
        if "To" in filters and message["to"] != filters["To"]:
            return False
        if "From" in filters and message["from"] != filters["From"]:
            return False
        if "DateSent" in filters and sent != filters["DateSent"]:
            return False
        if "DateSent>" in filters and sent < filters["DateSent>"]:
            return False
        if "DateSent<" in filters and sent > filters["DateSent<"]:
            return False
        return True

    @staticmethod
    def _page_at(ordered, token, page_size):
        """The page after (PA + sid) or before (PB + sid) a message, in the newest-first order."""
        direction, sid = token[:2], token[2:]
        if direction not in ("PA", "PB") or sid not in ordered:
            raise TwilioError(20001, message="Invalid PageToken")
        index = ordered.index(sid)
        if direction == "PA":
            return ordered[index + 1:index + 1 + page_size]
        return ordered[max(index - page_size, 0):index]

    def handle_get(self, sid) -> tuple[int, dict]:
        message = self.message(sid)
        if message is None:
            error = TwilioError(20404, message=f"The requested resource /{API_VERSION}/Accounts/"
                                               f"{self.account_sid}/Messages/{sid}.json was not found")
            return error.status, error.body()
        return 200, message


def _seconds_text(seconds) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


def _int_param(query, name, default, lowest, highest) -> int:
    text = query.get(name, [None])[-1]
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise TwilioError(20001, message=f"Invalid {name}: {text}") from None
    if not lowest <= value <= highest:
        raise TwilioError(20001, message=f"Invalid {name}: {text}")
    return value


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # bursts of new connections from several service instances
    fake: FakeTwilio

    def __init__(self, *args, **kwargs):
        self._connections = set()
        self._connections_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def track(self, connection, open_):
        with self._connections_lock:
            (self._connections.add if open_ else self._connections.discard)(connection)

    def close_connections(self):
        """Ends the kept-alive connections, so their handler threads finish."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address):
        # A caller that went away (timed out, or was killed) while a handler hung is expected here.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Twilio's API
    server_version = "FakeTwilio/1.0"
    timeout = 120  # an idle kept-alive connection is closed after this long

    def setup(self):
        super().setup()
        self.server.track(self.connection, True)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass  # quiet: the records are the log

    @property
    def fake(self) -> FakeTwilio:
        return self.server.fake

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _send(self, status, payload, headers=None):
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            self.close_connection = True  # the caller is gone

    def _route(self):
        """(message sid or None, split URL) of a Messages path with good credentials; else (None, error tuple)."""
        parts = urllib.parse.urlsplit(self.path)
        match = ACCOUNT_PATH.match(parts.path)
        if not self.fake._authorized(self.headers.get("Authorization")):
            return None, (401, TwilioError(20003).body(), {"WWW-Authenticate": 'Basic realm="Twilio API"'})
        if match is None or match.group(1) != self.fake.account_sid:
            error = TwilioError(20404, message=f"The requested resource {parts.path} was not found")
            return None, (404, error.body(), {})
        return (match.group(2), parts), None

    def do_POST(self):  # noqa: N802 - http.server's naming
        form = _form(self._read_body())
        route, refused = self._route()
        if refused is None and route[0] is not None:
            refused = (405, {"code": 20004, "message": "Method not allowed", "more_info": ERROR_DOCS + "20004",
                             "status": 405}, {})
        if refused is not None:
            self.fake.record_refused_post(form, refused[0], refused[1]["code"], self.client_address[1])
            self._send(*refused)
            return
        status, payload, headers, delay = self.fake.handle_post(form, self.client_address[1])
        if delay > 0:
            self.fake._stopping.wait(delay)
        self._send(status, payload, headers)

    def do_GET(self):  # noqa: N802
        route, refused = self._route()
        if refused is not None:
            self._send(*refused)
            return
        message_sid, parts = route
        if message_sid is not None:
            status, payload = self.fake.handle_get(message_sid)
        else:
            status, payload = self.fake.handle_list(urllib.parse.parse_qs(parts.query, keep_blank_values=True),
                                                    parts.path)
        self._send(status, payload)


def _form(raw: bytes) -> dict:
    """A form body's fields (the last value of each)."""
    fields = urllib.parse.parse_qs(raw.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {name: values[-1] for name, values in fields.items()}
