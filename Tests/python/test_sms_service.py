"""SMS sending with the real `jules` binary, PostgreSQL, Redis and a fake Twilio (fake_twilio.py): the outbox
provider, the account rate limit with one and with three instances, a SIGKILL in the middle of a batch, opt-outs
while queued, Twilio's errors, replies ahead of bulk, quiet hours, and the methods' validation.

Each test has its own PostgreSQL database, its own Redis logical database (emptied first), its own prefix for the
rate-limit keys (JULES_SMS_KEY_PREFIX) and its own fake Twilio. Set JULES_TEST_LOG_DIR to keep the services' logs
(JULES_TEST_LOG_LEVEL to choose their level, notice by default)."""
import datetime
import os
import subprocess
import sys
import threading
import time
import uuid
import zoneinfo

import pytest

from fake_twilio import FakeTwilio
from service_support import ROOT, RedisDatabase, isolated_env, needs_services, temporary_database, wait_until

sys.path.insert(0, str(ROOT / "clients"))
from jules_rpc import JulesRPCError  # noqa: E402

DATABASE_URL = os.environ.get("JULES_DATABASE_URL")
REDIS_URL = os.environ.get("JULES_REDIS_URL")

pytestmark = needs_services("JULES_DATABASE_URL", "JULES_REDIS_URL")

INVALID_PARAMS = -32602
NOT_FOUND = -32001
FORBIDDEN = -32006
FINAL = {"sent", "delivered", "failed", "undelivered"}
SENDER = "+15005550006"


def number(index):
    """A distinct US number per index (0..9999): +1 415 555 0000 and up."""
    return f"+1415555{index:04d}"


# MARK: - PostgreSQL, Redis, the fake Twilio and the service


@pytest.fixture
def fresh_database():
    with temporary_database(DATABASE_URL, "jules_py_sms_") as url:
        yield url


@pytest.fixture
def redis_db(request):
    """A Redis logical database for this test, emptied first (away from database 0 that other tests use)."""
    database = RedisDatabase.for_test(REDIS_URL, request.node.name)
    database.run("FLUSHDB")
    yield database
    database.run("FLUSHDB")


@pytest.fixture
def key_prefix():
    return f"jules-py:sms:{uuid.uuid4().hex[:8]}:"


@pytest.fixture
def fake_twilio():
    """Twilio's account limit: 100 POSTs in any 1 s."""
    fake = FakeTwilio(rate_limit=100).start()
    yield fake
    fake.stop()


def sms_env(database_url, redis, key_prefix, fake=None, **overrides):
    """The service's environment: this test's database, Redis and key prefix, quiet hours off, and the fake Twilio
    when given (else no Twilio variables at all, hence the outbox)."""
    env = isolated_env("TWILIO_")
    env.update(JULES_DATABASE_URL=database_url, JULES_REDIS_URL=redis.url, JULES_SMS_KEY_PREFIX=key_prefix,
               JULES_STATE_KEY_PREFIX=key_prefix + "state:", JULES_SMS_QUIET_HOURS="off")
    if fake is not None:
        env.update(fake.env())
    env.update({name: str(value) for name, value in overrides.items()})
    return env


# MARK: - Settings


ACCOUNT = "AC" + "0" * 32


@pytest.mark.parametrize("overrides,named", [
    ({"JULES_SMS_PROVIDER": "carrier-pigeon"}, "JULES_SMS_PROVIDER"),
    ({"JULES_SMS_PROVIDER": "twilio"}, "TWILIO_ACCOUNT_SID"),
    ({"TWILIO_ACCOUNT_SID": "AC123", "TWILIO_AUTH_TOKEN": "t", "JULES_SMS_FROM": SENDER}, "TWILIO_ACCOUNT_SID"),
    ({"TWILIO_ACCOUNT_SID": ACCOUNT, "TWILIO_AUTH_TOKEN": "t"}, "JULES_SMS_FROM"),
    ({"TWILIO_ACCOUNT_SID": ACCOUNT, "TWILIO_AUTH_TOKEN": "t", "JULES_SMS_FROM": "415-555-0100"}, "JULES_SMS_FROM"),
    ({"TWILIO_ACCOUNT_SID": ACCOUNT, "TWILIO_AUTH_TOKEN": "t", "JULES_SMS_MESSAGING_SERVICE_SID": "MG1"},
     "JULES_SMS_MESSAGING_SERVICE_SID"),
    ({"TWILIO_ACCOUNT_SID": ACCOUNT, "TWILIO_AUTH_TOKEN": "t", "JULES_SMS_FROM": SENDER,
      "JULES_TWILIO_API_URL": "ftp://example.com"}, "JULES_TWILIO_API_URL"),
    ({"JULES_SMS_RATE": "0"}, "JULES_SMS_RATE"),
    ({"JULES_SMS_RATE": "fast"}, "JULES_SMS_RATE"),
    ({"JULES_SMS_QUIET_HOURS": "21:00"}, "JULES_SMS_QUIET_HOURS"),
    ({"JULES_SMS_QUIET_HOURS": "25:00-08:00"}, "JULES_SMS_QUIET_HOURS"),
    ({"JULES_SMS_QUIET_HOURS": "08:00-08:00"}, "JULES_SMS_QUIET_HOURS"),
    ({"JULES_SMS_QUIET_HOURS": "+1:00-07:00"}, "JULES_SMS_QUIET_HOURS"),
    ({"JULES_SMS_QUIET_HOURS": "21:00--1:00"}, "JULES_SMS_QUIET_HOURS"),
    ({"JULES_INSTANCE_ID": "has space"}, "JULES_INSTANCE_ID"),
    ({"JULES_INSTANCE_ID": "x" * 129}, "JULES_INSTANCE_ID"),
    ({"JULES_SMS_MAX_ATTEMPTS": "0"}, "JULES_SMS_MAX_ATTEMPTS"),
    ({"JULES_SMS_TIMEOUT_MS": "5000", "JULES_SMS_LEASE_SECONDS": "5"}, "JULES_SMS_LEASE_SECONDS"),
    ({"JULES_SMS_UNKNOWN_OUTCOME_SETTLE_SECONDS": "-1"}, "JULES_SMS_UNKNOWN_OUTCOME_SETTLE_SECONDS"),
    ({"JULES_SMS_KEY_PREFIX": "has space"}, "JULES_SMS_KEY_PREFIX"),
])
def test_serve_refuses_unusable_sms_settings(jules_bin, short_tmp, overrides, named):
    env = isolated_env("TWILIO_")
    env.update(JULES_DATABASE_URL=DATABASE_URL, JULES_REDIS_URL=REDIS_URL, **overrides)
    result = subprocess.run([jules_bin, "serve", "--socket", str(short_tmp / "s.sock")], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert named in result.stderr, result.stderr[-2000:]
    assert not (short_tmp / "s.sock").exists()


# MARK: - Helpers


def batched(service, calls, size=100):
    """Results of many calls, `size` per JSON-RPC batch; an error is an assertion failure."""
    results = []
    for start in range(0, len(calls), size):
        for result in service.client.batch(calls[start:start + size]):
            assert not isinstance(result, JulesRPCError), result
            results.append(result)
    return results


def create_members(service, count, first=0, timezone="UTC", per_household=100):
    """`count` opted-in members with numbers number(first)...; [(member_id, E.164)] in that order."""
    members = []
    for start in range(0, count, per_household):
        household = service.call("household.create", {"name": f"SMS {first + start}", "timezone": timezone})["id"]
        numbers = [number(first + index) for index in range(start, min(count, start + per_household))]
        calls = [("member.add", {"household_id": household, "name": f"Member {phone[-4:]}", "phone": phone,
                                 "opt_in_state": "opted_in"}) for phone in numbers]
        members += [(added["id"], phone) for added, phone in zip(batched(service, calls), numbers)]
    return members


def status_of(service, message_id):
    return service.call("sms.status", {"message_id": message_id})


def statuses(service, message_ids):
    return batched(service, [("sms.status", {"message_id": message_id}) for message_id in message_ids])


def wait_final(service, message_id, timeout=30):
    return wait_until(f"message {message_id} to reach a final status",
                      lambda: (s := status_of(service, message_id))["status"] in FINAL and s, timeout)


def wait_batch_done(service, batch_id, timeout):
    return wait_until(f"batch {batch_id} to be done",
                      lambda: (s := service.call("sms.status", {"batch_id": batch_id}))["done"] and s, timeout,
                      interval=0.25)


def rpc_error(service, method, params):
    with pytest.raises(JulesRPCError) as caught:
        service.call(method, params)
    return caught.value


def parse_time(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def tcp_ports_of(pid):
    """The local TCP ports of a process's sockets (to tell which instance made a request to the fake)."""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    except OSError:
        return set()
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as rows:
                next(rows)
                for row in rows:
                    fields = row.split()
                    if fields[9] in inodes:
                        ports.add(int(fields[1].rsplit(":", 1)[1], 16))
        except OSError:
            pass
    return ports


class PortWatcher:
    """Samples the services' client ports in the background: port -> service name."""

    def __init__(self, instances, interval=0.2):
        self.instances = instances
        self.interval = interval
        self.owner = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            for service in self.instances:
                for port in tcp_ports_of(service.pid):
                    self.owner.setdefault(port, service.name)
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join(5)


def report(text):
    """Figures worth seeing in the test output (pytest -s, or on failure)."""
    print(f"[sms] {text}")


# MARK: - a. The outbox


def test_the_outbox_is_the_default_without_twilio(fresh_database, redis_db, key_prefix, services):
    service = services(sms_env(fresh_database, redis_db, key_prefix), name="outbox")
    (member, _), (other, _) = create_members(service, 2)

    sent = service.call("sms.send", {"member_id": member, "body": "Tacos on Tuesday?"})
    assert sent["status"] == "queued" and sent["segments"] == 1 and sent["encoding"] == "gsm7"
    final = wait_final(service, sent["message_id"], timeout=30)
    assert final["status"] == "sent", final
    assert final["provider"] == "outbox"
    assert final["member_id"] == member and final["batch_id"] is None and final["priority"] == "bulk"
    assert final["attempts"] >= 1 and final["error"] is None and final["sent_at"]

    outbox = service.call("sms.outbox", {"member_id": member})
    assert [(m["message_id"], m["member_id"], m["body"]) for m in outbox["messages"]] == [
        (sent["message_id"], member, "Tacos on Tuesday?")]
    assert outbox["next_after"] is None

    # Paging: three more for the other member, two per page.
    ids = [service.call("sms.send", {"member_id": other, "body": f"Plan {index}", "priority": "reply"})["message_id"]
           for index in range(3)]
    for message_id in ids:
        assert wait_final(service, message_id)["status"] == "sent"
    first = service.call("sms.outbox", {"member_id": other, "limit": 2})
    assert len(first["messages"]) == 2 and first["next_after"]
    second = service.call("sms.outbox", {"member_id": other, "limit": 2, "after": first["next_after"]})
    paged = first["messages"] + second["messages"]
    assert sorted(m["message_id"] for m in paged) == sorted(ids)
    assert sorted(m["body"] for m in paged) == ["Plan 0", "Plan 1", "Plan 2"]
    assert len(service.call("sms.outbox", {})["messages"]) == 4

    stats = service.call("sms.stats")
    assert stats["provider"] == "outbox"
    assert stats["sent"] == 4 and stats["queued"] == 0 and stats["failed"] == 0
    service.stop()


# MARK: - b. The account rate limit, one instance


def test_a_thousand_messages_at_the_account_rate(fresh_database, redis_db, key_prefix, fake_twilio, services):
    service = services(sms_env(fresh_database, redis_db, key_prefix, fake_twilio, JULES_SMS_RATE=80),
                       name="rate")
    members = create_members(service, 1000)
    messages = [{"member_id": member, "body": f"Your plan for the week, {phone[-4:]}"} for member, phone in members]

    started = time.monotonic()
    batch = service.call("sms.sendBatch", {"messages": messages, "priority": "bulk"})
    assert batch["accepted"] == 1000 and batch["rejected"] == []
    assert len(batch["message_ids"]) == 1000 and None not in batch["message_ids"]

    fake_twilio.wait_for(lambda fake: len(fake.accepted()) >= 1000, timeout=60, interval=0.05)
    done = wait_batch_done(service, batch["batch_id"], timeout=30)
    first, last = fake_twilio.first_post_at(), fake_twilio.last_post_at()
    window = fake_twilio.max_in_window(1.0)
    report(f"1000 at 80/s: first POST {first - started:.2f} s after the call, last {last - started:.2f} s, "
           f"max {window} in 1 s, histogram {fake_twilio.histogram(1.0)}")

    assert done["total"] == 1000 and done["counts"]["sent"] == 1000, done
    assert fake_twilio.rate_limited() == [] and fake_twilio.responses(429) == []
    assert len(fake_twilio.posts()) == 1000
    assert fake_twilio.accepted_per_to() == {phone: 1 for _, phone in members}
    assert window <= 100
    assert 11.25 <= last - started <= 13.75, f"last POST {last - started:.2f} s after the call (12.5 s wanted)"

    sids = {record.to: record.sid for record in fake_twilio.accepted()}
    phones = dict(members)
    wrong = []
    for result in statuses(service, batch["message_ids"]):
        if (result["status"], result["provider"], result["provider_sid"]) != (
                "sent", "twilio", sids[phones[result["member_id"]]]):
            wrong.append(result)
    assert not wrong, f"{len(wrong)} messages not sent with the fake's sid, e.g. {wrong[:3]}"
    bodies = {record.to: record.body for record in fake_twilio.accepted()}
    assert all(bodies[phone] == f"Your plan for the week, {phone[-4:]}" for _, phone in members)
    assert all(record.sender == SENDER for record in fake_twilio.posts())

    stats = service.call("sms.stats")
    assert stats["provider"] == "twilio" and stats["sent"] == 1000 and stats["queued"] == 0
    assert stats["rate"]["limit"] == 80
    service.stop()


# MARK: - c. The account rate limit, three instances


def test_three_instances_share_the_account_rate(fresh_database, redis_db, key_prefix, fake_twilio, services):
    base = sms_env(fresh_database, redis_db, key_prefix, fake_twilio, JULES_SMS_RATE=80)
    instances = [services(dict(base, JULES_INSTANCE_ID=f"sms-{index}"), name=f"sms-{index}") for index in range(3)]
    members = create_members(instances[0], 600)

    with PortWatcher(instances) as ports:
        started = time.monotonic()
        batch = instances[0].call("sms.sendBatch", {"messages": [
            {"member_id": member, "body": f"Shared rate {phone[-4:]}"} for member, phone in members]})
        assert batch["accepted"] == 600
        fake_twilio.wait_for(lambda fake: len(fake.accepted()) >= 600, timeout=60, interval=0.05)
    done = wait_batch_done(instances[1], batch["batch_id"], timeout=30)
    elapsed = fake_twilio.last_post_at() - started
    window = fake_twilio.max_in_window(1.0)
    by_instance = {}
    for record in fake_twilio.posts():
        name = ports.owner.get(record.client_port, "unknown")
        by_instance[name] = by_instance.get(name, 0) + 1
    report(f"600 at 80/s over 3 instances: last POST {elapsed:.2f} s after the call, max {window} in 1 s, "
           f"POSTs per instance {by_instance}, histogram {fake_twilio.histogram(1.0)}")

    assert done["counts"]["sent"] == 600, done
    assert fake_twilio.rate_limited() == [] and fake_twilio.responses(429) == []
    assert window <= 100
    assert fake_twilio.accepted_per_to() == {phone: 1 for _, phone in members}
    assert len(fake_twilio.posts()) == 600
    assert 600 / 80 * 0.9 <= elapsed <= 600 / 80 * 1.2, f"{elapsed:.2f} s for 600 messages at 80/s (7.5 s wanted)"
    senders = [name for name, count in by_instance.items() if name != "unknown" and count > 0]
    assert len(senders) >= 2, f"only {senders} sent: the test does not show a shared limit ({by_instance})"


# MARK: - d. SIGKILL in the middle of a batch


def test_sigkill_mid_batch_then_restart_sends_each_message_once(fresh_database, redis_db, key_prefix, fake_twilio,
                                                                  services):
    env = sms_env(fresh_database, redis_db, key_prefix, fake_twilio, JULES_SMS_RATE=20, JULES_SMS_TIMEOUT_MS=1000,
                  JULES_SMS_LEASE_SECONDS=3, JULES_SMS_RETRY_BASE_MS=100, JULES_SMS_UNKNOWN_OUTCOME_SETTLE_SECONDS=2,
                  JULES_INSTANCE_ID="crash")
    first = services(env, name="first")
    members = create_members(first, 200)
    phones = [phone for _, phone in members]
    # Twilio creates these messages but answers only 5 s later: the service cannot know their fate in time.
    hanging = phones[40:46]
    for phone in hanging:
        fake_twilio.accept_then_hang(phone, 5)

    batch = first.call("sms.sendBatch", {"messages": [
        {"member_id": member, "body": f"Crash test {phone[-4:]}"} for member, phone in members]})
    assert batch["accepted"] == 200
    # SIGKILL as soon as two of them are in flight (their POSTs arrived and got no answer yet).
    fake_twilio.wait_for(lambda fake: sum(1 for r in fake.posts() if r.to in hanging) >= 2, timeout=60)
    first.kill()
    in_flight = {record.to for record in fake_twilio.posts() if record.to in hanging}
    accepted_at_kill = len(fake_twilio.accepted())
    report(f"killed with {accepted_at_kill} messages created at the fake, unknown fate: {sorted(in_flight)}")
    assert 0 < accepted_at_kill < 200, "the kill came in the middle of the batch"

    second = services(env, name="second")
    done = wait_batch_done(second, batch["batch_id"], timeout=120)
    report(f"after the restart: {done['counts']}; list calls for the unknown ones: "
           f"{ {phone: len(fake_twilio.list_calls(phone)) for phone in sorted(in_flight)} }")

    per_to = fake_twilio.accepted_per_to()
    duplicated = {phone: count for phone, count in per_to.items() if count > 1}
    missing = [phone for phone in phones if per_to.get(phone, 0) == 0]
    assert not duplicated, f"sent twice: {duplicated}"
    assert not missing, f"never sent: {missing}"
    assert done["counts"]["sent"] == 200, done

    results = {result["member_id"]: result for result in statuses(second, batch["message_ids"])}
    by_phone = {phone: results[member] for member, phone in members}
    sids = {record.to: record.sid for record in fake_twilio.accepted()}
    wrong = [(phone, result) for phone, result in by_phone.items()
             if result["status"] != "sent" or result["provider_sid"] != sids[phone]]
    assert not wrong, f"{len(wrong)} rows differ from the fake, e.g. {wrong[:3]}"
    for phone in hanging:
        assert len(fake_twilio.posts(phone)) == 1, f"{phone} was POSTed again: {fake_twilio.posts(phone)}"
        assert fake_twilio.list_calls(phone), f"{phone}'s fate was never looked up with the list call"
    for phone in in_flight:
        # Looked up after the kill, by the second instance.
        post = fake_twilio.posts(phone)[0]
        assert any(call.at > post.at for call in fake_twilio.list_calls(phone))


# MARK: - e. Opt-out while queued


def test_opt_out_while_queued(fresh_database, redis_db, key_prefix, fake_twilio, services):
    service = services(sms_env(fresh_database, redis_db, key_prefix, fake_twilio), name="optout")
    members = create_members(service, 5)

    started = time.monotonic()
    batch = service.call("sms.sendBatch", {"spread_seconds": 10, "messages": [
        {"member_id": member, "body": "Spread out"} for member, _ in members]})
    assert batch["accepted"] == 5
    last_id = batch["message_ids"][4]  # not before now + 8 s
    waiting = status_of(service, last_id)
    assert waiting["status"] == "queued", waiting
    assert parse_time(waiting["not_before"]) > datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(
        seconds=5)
    service.call("member.optOut", {"member_id": members[4][0]})

    done = wait_batch_done(service, batch["batch_id"], timeout=40)
    assert done["counts"]["sent"] == 4 and done["counts"]["failed"] == 1, done
    final = status_of(service, last_id)
    assert final["status"] == "failed" and final["error"]["reason"] == "opted_out", final
    assert fake_twilio.posts(members[4][1]) == []
    # The spread: the i-th message is not sent before 2 i seconds after the call.
    for index, (_, phone) in enumerate(members[:4]):
        [post] = fake_twilio.posts(phone)
        assert post.at >= started + 2 * index - 0.05, f"message {index} sent {post.at - started:.2f} s in"


# MARK: - f. Twilio's errors


def test_twilio_errors_retries_and_reconciliation(fresh_database, redis_db, key_prefix, fake_twilio, services):
    service = services(sms_env(fresh_database, redis_db, key_prefix, fake_twilio, JULES_SMS_RETRY_BASE_MS=100,
                               JULES_SMS_MAX_ATTEMPTS=3, JULES_SMS_TIMEOUT_MS=1000, JULES_SMS_LEASE_SECONDS=5,
                               JULES_SMS_UNKNOWN_OUTCOME_SETTLE_SECONDS=2),
                       name="errors")
    members = create_members(service, 8)
    (invalid, invalid_phone), (landline, landline_phone), (unsubscribed, unsubscribed_phone), \
        (flaky, flaky_phone), (throttled, throttled_phone), (broken, broken_phone), (slow, slow_phone), \
        (unsent, unsent_phone) = members
    fake_twilio.reject(invalid_phone, 21211)
    fake_twilio.reject(landline_phone, 21614)
    fake_twilio.reject(unsubscribed_phone, 21610)
    fake_twilio.fail(flaky_phone, 503, times=2)
    fake_twilio.throttle(throttled_phone, retry_after=2, times=1)
    fake_twilio.fail(broken_phone, 500, times=None)
    fake_twilio.hang(slow_phone, 3, times=1)  # longer than the 1 s timeout; creates nothing
    # Taken, but still queued at Twilio (no date_sent) when the 1 s timeout makes the service look it up.
    fake_twilio.accept_then_hang(unsent_phone, 3, sent=False)

    ids = {member: service.call("sms.send", {"member_id": member, "body": "Errors"})["message_id"]
           for member, _ in members}
    final = {member: wait_final(service, message_id, timeout=40) for member, message_id in ids.items()}
    report("errors: " + "; ".join(f"{phone}: {final[member]['status']} {final[member]['error']} "
                                  f"attempts {final[member]['attempts']}, {len(fake_twilio.posts(phone))} POSTs"
                                  for member, phone in members))

    for member, phone, code in ((invalid, invalid_phone, 21211), (landline, landline_phone, 21614)):
        result = final[member]
        assert result["status"] == "failed" and result["attempts"] == 1, result
        assert result["error"]["reason"] == "provider_rejected" and str(result["error"]["code"]) == str(code), result
        assert len(fake_twilio.posts(phone)) == 1

    result = final[unsubscribed]
    assert result["status"] == "failed" and result["attempts"] == 1, result
    assert str(result["error"]["code"]) == "21610" and result["error"]["reason"] in ("provider_rejected",
                                                                                      "opted_out"), result
    assert service.call("member.get", {"member_id": unsubscribed})["opt_in_state"] == "opted_out"
    entries = service.call("audit.list", {"member_id": unsubscribed})["entries"]
    assert entries[-1]["new_state"] == "opted_out" and entries[-1]["source"] == "carrier", entries
    assert rpc_error(service, "sms.send", {"member_id": unsubscribed, "body": "again"}).code == FORBIDDEN

    result = final[flaky]
    assert result["status"] == "sent" and result["attempts"] == 3, result
    assert [post.status for post in fake_twilio.posts(flaky_phone)] == [503, 503, 201]
    assert result["provider_sid"] == fake_twilio.accepted(flaky_phone)[0].sid

    result = final[throttled]
    posts = fake_twilio.posts(throttled_phone)
    assert result["status"] == "sent", result
    assert [post.status for post in posts] == [429, 201]
    assert posts[1].at - posts[0].at >= 1.9, f"retried {posts[1].at - posts[0].at:.2f} s after Retry-After: 2"

    result = final[broken]
    assert result["status"] == "failed" and result["attempts"] == 3, result
    assert result["error"]["reason"] == "max_attempts", result
    posts = fake_twilio.posts(broken_phone)
    assert [post.status for post in posts] == [500, 500, 500]
    # A 500 to a send may come after Twilio created the message: it is looked up before each new POST.
    lookups = fake_twilio.list_calls(broken_phone)
    assert all(any(earlier.at < call.at < later.at for call in lookups) for earlier, later in zip(posts, posts[1:])), \
        f"a POST after a 500 without a look-up between: {posts} {lookups}"

    result = final[slow]
    posts = fake_twilio.posts(slow_phone)
    assert result["status"] == "sent", result
    assert [post.outcome for post in posts] == ["hung", "created"], posts
    lookups = fake_twilio.list_calls(slow_phone)
    assert any(posts[0].at < call.at < posts[1].at for call in lookups), \
        f"no list call between the timed-out POST and the retry: {lookups}"
    assert result["provider_sid"] == posts[1].sid

    # Found by the number's newest messages although no DateSent filter could find it; never sent twice.
    result = final[unsent]
    posts = fake_twilio.posts(unsent_phone)
    assert result["status"] == "sent" and result["attempts"] == 1, result
    assert [post.outcome for post in posts] == ["accepted_then_hung"], posts
    assert result["provider_sid"] == posts[0].sid
    assert fake_twilio.list_calls(unsent_phone), "the service never looked it up"

    stats = service.call("sms.stats")
    assert stats["failed"] == 4 and stats["sent"] == 4, stats
    assert stats["retried"] >= 4, stats


def test_a_message_twilio_lists_late_is_not_sent_twice(fresh_database, redis_db, key_prefix, services):
    """Twilio's message list can lag behind a message it has just created: after a send whose answer never came, a
    look-up that does not find the message counts as "not sent" only once JULES_SMS_UNKNOWN_OUTCOME_SETTLE_SECONDS
    have passed since the attempt; until then the service keeps looking."""
    settle = 5
    with FakeTwilio(rate_limit=100, list_lag=3) as fake:
        service = services(sms_env(fresh_database, redis_db, key_prefix, fake, JULES_SMS_TIMEOUT_MS=1000,
                                   JULES_SMS_LEASE_SECONDS=5, JULES_SMS_RETRY_BASE_MS=100,
                                   JULES_SMS_UNKNOWN_OUTCOME_SETTLE_SECONDS=settle), name="lag")
        (taken, taken_phone), (lost, lost_phone) = create_members(service, 2)
        fake.accept_then_hang(taken_phone, 2)  # created at once, listed 3 s later; the 1 s timeout comes first
        fake.hang(lost_phone, 2)  # nothing created
        ids = {member: service.call("sms.send", {"member_id": member, "body": "Lag"})["message_id"]
               for member in (taken, lost)}
        final = {member: wait_final(service, message_id, timeout=30) for member, message_id in ids.items()}

        result, posts = final[taken], fake.posts(taken_phone)
        assert [post.outcome for post in posts] == ["accepted_then_hung"], posts
        assert result["status"] == "sent" and result["attempts"] == 1, result
        assert result["provider_sid"] == posts[0].sid
        lookups = fake.list_calls(taken_phone)
        assert len(lookups) >= 2 and lookups[-1].at >= posts[0].at + 3, f"found before it was listed? {lookups}"

        result, posts = final[lost], fake.posts(lost_phone)
        assert [post.outcome for post in posts] == ["hung", "created"], posts
        assert result["status"] == "sent" and result["attempts"] == 2, result
        assert posts[1].at - posts[0].at >= settle - 0.5, f"sent again {posts[1].at - posts[0].at:.2f} s after"
        assert len([call for call in fake.list_calls(lost_phone) if posts[0].at < call.at < posts[1].at]) >= 2


def test_a_smart_encoded_message_is_found_after_an_unknown_outcome(fresh_database, redis_db, key_prefix, services):
    """With Smart Encoding, Twilio lists the message with GSM-7 look-alikes for the characters it replaced: the look-up
    after a send whose answer never came must still find it, not send it again."""
    body = "Here\u2019s \u201ctonight\u2019s\u201d plan \u2014 pasta\u2026 OK?"
    with FakeTwilio(rate_limit=100, smart_encoding=True) as fake:
        service = services(sms_env(fresh_database, redis_db, key_prefix, fake, JULES_SMS_TIMEOUT_MS=1000,
                                   JULES_SMS_LEASE_SECONDS=5, JULES_SMS_RETRY_BASE_MS=100,
                                   JULES_SMS_UNKNOWN_OUTCOME_SETTLE_SECONDS=2), name="smart")
        [(member, phone)] = create_members(service, 1)
        fake.accept_then_hang(phone, 2)  # created at once; the answer comes after the 1 s timeout
        sent = service.call("sms.send", {"member_id": member, "body": body})
        assert sent["encoding"] == "ucs2"
        final = wait_final(service, sent["message_id"], timeout=30)

        posts = fake.posts(phone)
        assert [post.outcome for post in posts] == ["accepted_then_hung"], f"sent again: {posts}"
        assert posts[0].body == body
        assert fake.message(posts[0].sid)["body"] == "Here's \"tonight's\" plan - pasta... OK?"
        assert final["status"] == "sent" and final["attempts"] == 1, final
        assert final["provider_sid"] == posts[0].sid
        assert fake.list_calls(phone), "it was never looked up"


# MARK: - g. Replies go ahead of bulk


def test_a_reply_overtakes_queued_bulk(fresh_database, redis_db, key_prefix, fake_twilio, services):
    service = services(sms_env(fresh_database, redis_db, key_prefix, fake_twilio, JULES_SMS_RATE=5), name="replies")
    members = create_members(service, 51)
    (replied, replied_phone) = members[50]

    started = time.monotonic()
    batch = service.call("sms.sendBatch", {"priority": "bulk", "messages": [
        {"member_id": member, "body": "Bulk"} for member, _ in members[:50]]})
    assert batch["accepted"] == 50
    reply = service.call("sms.send", {"member_id": replied, "body": "Here is your answer", "priority": "reply"})
    [post] = fake_twilio.wait_for(lambda fake: fake.posts(replied_phone), timeout=30, interval=0.02)
    before = [record for record in fake_twilio.posts() if record.at < post.at]
    report(f"reply POSTed {post.at - started:.2f} s after the batch, after {len(before)} of 50 bulk messages")
    assert len(before) < 25, f"{len(before)} bulk messages went out before the reply"
    assert wait_final(service, reply["message_id"])["status"] == "sent"
    assert status_of(service, reply["message_id"])["priority"] == "reply"


# MARK: - h. Quiet hours


def zone_in_quiet_hours():
    """A real IANA zone whose local time is now well inside 21:00-08:00 (nearest to 02:00), and that time."""
    candidates = ["Pacific/Pago_Pago", "Pacific/Honolulu", "America/Anchorage", "America/Los_Angeles",
                  "America/Denver", "America/Chicago", "America/New_York", "America/Halifax", "America/Sao_Paulo",
                  "Atlantic/South_Georgia", "Atlantic/Cape_Verde", "UTC", "Europe/Paris", "Europe/Athens",
                  "Europe/Moscow", "Asia/Dubai", "Asia/Karachi", "Asia/Dhaka", "Asia/Bangkok", "Asia/Shanghai",
                  "Asia/Tokyo", "Australia/Brisbane", "Pacific/Noumea", "Pacific/Auckland", "Pacific/Tongatapu",
                  "Pacific/Kiritimati"]
    now = datetime.datetime.now(datetime.timezone.utc)

    def distance(name):
        local = now.astimezone(zoneinfo.ZoneInfo(name))
        hours = local.hour + local.minute / 60
        return min(abs(hours - 2), 24 - abs(hours - 2))

    best = min(candidates, key=distance)
    assert distance(best) <= 2, "no candidate zone is between midnight and 04:00"
    return best, now.astimezone(zoneinfo.ZoneInfo(best))


def test_quiet_hours_hold_bulk_but_not_replies(fresh_database, redis_db, key_prefix, fake_twilio, services):
    zone, local = zone_in_quiet_hours()
    report(f"quiet hours: {zone}, local time {local:%H:%M}")
    service = services(sms_env(fresh_database, redis_db, key_prefix, fake_twilio,
                               JULES_SMS_QUIET_HOURS="21:00-08:00"), name="quiet")
    [(member, phone)] = create_members(service, 1, timezone=zone)
    bulk = service.call("sms.send", {"member_id": member, "body": "Weekly poll", "priority": "bulk"})
    time.sleep(3)
    held = status_of(service, bulk["message_id"])
    assert held["status"] == "queued", held
    not_before = parse_time(held["not_before"])
    now = datetime.datetime.now(datetime.timezone.utc)
    report(f"bulk held until {held['not_before']} ({not_before.astimezone(zoneinfo.ZoneInfo(zone)):%H:%M} local)")
    assert now < not_before <= now + datetime.timedelta(hours=11, minutes=5)
    assert fake_twilio.posts(phone) == []

    reply = service.call("sms.send", {"member_id": member, "body": "Your answer", "priority": "reply"})
    assert wait_final(service, reply["message_id"])["status"] == "sent"
    assert [record.body for record in fake_twilio.posts(phone)] == ["Your answer"]
    assert status_of(service, bulk["message_id"])["status"] == "queued"


# MARK: - i. Validation and status callbacks


def test_send_validation(fresh_database, redis_db, key_prefix, services):
    service = services(sms_env(fresh_database, redis_db, key_prefix), name="validation")
    (member, _), (opted_out, _), (deleted, _) = create_members(service, 3)
    service.call("member.optOut", {"member_id": opted_out})
    service.call("member.delete", {"member_id": deleted})

    for params, field in [
        ({"member_id": "not-a-uuid", "body": "x"}, "params.member_id"),
        ({"body": "x"}, "params.member_id"),
        ({"member_id": member, "body": ""}, "params.body"),
        ({"member_id": member}, "params.body"),
        ({"member_id": member, "body": "x" * 1601}, "params.body"),
        ({"member_id": member, "body": "bell \x07"}, "params.body"),
        ({"member_id": member, "body": "nul \x00"}, "params.body"),
        ({"member_id": member, "body": "x", "priority": "urgent"}, "params.priority"),
    ]:
        error = rpc_error(service, "sms.send", params)
        assert error.code == INVALID_PARAMS and error.data.get("field") == field, (params, error, error.data)

    error = rpc_error(service, "sms.send", {"member_id": str(uuid.uuid4()), "body": "x"})
    assert error.code == NOT_FOUND and error.type == "not_found", error
    assert rpc_error(service, "sms.send", {"member_id": deleted, "body": "x"}).code == NOT_FOUND
    error = rpc_error(service, "sms.send", {"member_id": opted_out, "body": "x"})
    assert error.code == FORBIDDEN and error.type == "forbidden" and error.data.get("reason") == "opted_out", error

    # At the limits: 1600 characters, newlines and tabs, UCS-2.
    longest = service.call("sms.send", {"member_id": member, "body": "x" * 1600})
    assert (longest["status"], longest["segments"], longest["encoding"]) == ("queued", 11, "gsm7")
    lines = service.call("sms.send", {"member_id": member, "body": "Monday:\nsoup\r\nTuesday: €"})
    assert (lines["segments"], lines["encoding"]) == (1, "gsm7")
    assert service.call("sms.send", {"member_id": member, "body": "tab\there"})["status"] == "queued"
    unicode = service.call("sms.send", {"member_id": member, "body": "Crêpes 🍲", "priority": "reply"})
    assert (unicode["segments"], unicode["encoding"]) == (1, "ucs2")
    assert (service.call("sms.send", {"member_id": member, "body": "ê" * 71})["segments"]) == 2
    assert status_of(service, unicode["message_id"])["priority"] == "reply"
    assert rpc_error(service, "sms.status", {"message_id": str(uuid.uuid4())}).code == NOT_FOUND
    assert rpc_error(service, "sms.status", {"batch_id": str(uuid.uuid4())}).code == NOT_FOUND


def test_batch_validation(fresh_database, redis_db, key_prefix, services):
    service = services(sms_env(fresh_database, redis_db, key_prefix), name="batch")
    (member, _), (other, _), (opted_out, _) = create_members(service, 3)
    service.call("member.optOut", {"member_id": opted_out})

    result = service.call("sms.sendBatch", {"messages": [
        {"member_id": member, "body": "ok 0"},
        {"member_id": "nope", "body": "bad id"},
        {"member_id": other, "body": ""},
        {"member_id": str(uuid.uuid4()), "body": "unknown"},
        {"member_id": opted_out, "body": "opted out"},
        {"member_id": other, "body": "bad priority", "priority": "soon"},
        {"member_id": other, "body": "ok 6", "priority": "reply"},
    ]})
    assert result["accepted"] == 2, result
    rejected = {entry["index"]: entry["error"] for entry in result["rejected"]}
    assert sorted(rejected) == [1, 2, 3, 4, 5], result
    assert [rejected[index]["code"] for index in (1, 2, 3, 4, 5)] == [
        INVALID_PARAMS, INVALID_PARAMS, NOT_FOUND, FORBIDDEN, INVALID_PARAMS], rejected
    ids = result["message_ids"]
    assert len(ids) == 7 and ids[1:6] == [None] * 5 and ids[0] and ids[6]
    assert status_of(service, ids[6])["priority"] == "reply" and status_of(service, ids[0])["priority"] == "bulk"
    assert status_of(service, ids[0])["batch_id"] == result["batch_id"]
    done = wait_batch_done(service, result["batch_id"], timeout=30)
    assert done["counts"]["sent"] == 2 and sum(done["counts"].values()) == 2, done
    # SPEC leaves open whether `total` counts the rejected entries; the service counts every entry given.
    assert done["total"] in (2, 7), done

    for params, field in [
        ({"messages": []}, "params.messages"),
        ({}, "params.messages"),
        ({"messages": [{"member_id": member, "body": "x"}] * 10_001}, "params.messages"),
        ({"messages": [{"member_id": member, "body": "x"}], "spread_seconds": -1}, "params.spread_seconds"),
        ({"messages": [{"member_id": member, "body": "x"}], "spread_seconds": 86_401}, "params.spread_seconds"),
        ({"messages": [{"member_id": member, "body": "x"}], "priority": "later"}, "params.priority"),
    ]:
        error = rpc_error(service, "sms.sendBatch", params)
        assert error.code == INVALID_PARAMS and error.data.get("field") == field, (field, error, error.data)
    stats = service.call("sms.stats")
    assert (stats["queued"], stats["sending"], stats["sent"]) == (0, 0, 2), "a refused batch enqueued nothing"


def test_status_callbacks(fresh_database, redis_db, key_prefix, fake_twilio, services):
    service = services(sms_env(fresh_database, redis_db, key_prefix, fake_twilio), name="callbacks")
    (member, phone), (other, other_phone) = create_members(service, 2)

    # An intermediate report for a sid nobody has is unknown; a final one is held for the message that will take it.
    error = rpc_error(service, "sms.statusCallback", {"MessageSid": "SM" + "0" * 32, "MessageStatus": "sent"})
    assert error.code == NOT_FOUND, error
    held = service.call("sms.statusCallback", {"MessageSid": "SM" + "0" * 32, "MessageStatus": "delivered"})
    assert held == {"message_id": None, "status": "delivered", "changed": False, "held": True}, held

    sent = service.call("sms.send", {"member_id": member, "body": "Delivered?"})
    assert wait_final(service, sent["message_id"])["status"] == "sent"
    sid = fake_twilio.accepted(phone)[0].sid
    fake_twilio.set_status(sid, "delivered")
    result = service.call("sms.statusCallback", fake_twilio.status_callback_params(sid))
    assert (result["message_id"], result["status"], result["changed"]) == (sent["message_id"], "delivered", True)
    delivered = status_of(service, sent["message_id"])
    assert delivered["status"] == "delivered" and delivered["delivered_at"], delivered
    assert service.call("sms.statusCallback", fake_twilio.status_callback_params(sid))["changed"] is False

    # The carrier reports the number unsubscribed: undelivered, and the member opted out (source carrier).
    second = service.call("sms.send", {"member_id": other, "body": "Undelivered?"})
    assert wait_final(service, second["message_id"])["status"] == "sent"
    other_sid = fake_twilio.accepted(other_phone)[0].sid
    fake_twilio.set_status(other_sid, "undelivered", 21610)
    result = service.call("sms.statusCallback", fake_twilio.status_callback_params(other_sid, error_code=21610))
    assert result["status"] == "undelivered" and result["changed"] is True, result
    undelivered = status_of(service, second["message_id"])
    assert undelivered["status"] == "undelivered" and undelivered["error"]["reason"] == "undelivered", undelivered
    assert service.call("member.get", {"member_id": other})["opt_in_state"] == "opted_out"
    entries = service.call("audit.list", {"member_id": other})["entries"]
    assert entries[-1]["source"] == "carrier" and entries[-1]["new_state"] == "opted_out", entries
    assert entries[-1].get("message_sid") in (None, other_sid)
