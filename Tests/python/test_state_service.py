"""Conversation state with the real `jules` binary, PostgreSQL and Redis: a SIGKILL in the middle of a burst of
updates, Redis stopped and started again during a burst, many concurrent reads, and compare-and-set across
connections.

Each test has its own PostgreSQL database and its own Redis logical database, emptied first: services sharing one
journal would drain each other's updates (and drop them, their households being unknown in the other database)."""
import json
import os
import shlex
import socket
import subprocess
import sys
import threading
import time

import pytest

from service_support import ROOT, RedisDatabase, isolated_env, needs_services, temporary_database, wait_until

sys.path.insert(0, str(ROOT / "clients"))
from jules_rpc import JulesConnectionError, JulesRPCError  # noqa: E402

DATABASE_URL = os.environ.get("JULES_DATABASE_URL")
REDIS_URL = os.environ.get("JULES_REDIS_URL")
SERVICES = os.environ.get("JULES_TEST_SERVICES")

pytestmark = needs_services("JULES_DATABASE_URL", "JULES_REDIS_URL") + [
    pytest.mark.skipif(not SERVICES, reason="needs JULES_TEST_SERVICES to stop and start Redis (scripts/test sets it)"),
]

UNAVAILABLE = -32004
CONFLICT = -32002
# The prefix of the service's Redis keys (JULES_STATE_KEY_PREFIX), the stream it journals acknowledged updates in,
# and its persisters' consumer group.
KEY_PREFIX = "jules-py:state:"
JOURNAL = KEY_PREFIX + "journal"
JOURNAL_GROUP = "jules-state-persisters"


# MARK: - PostgreSQL, Redis and the service


@pytest.fixture
def fresh_database():
    with temporary_database(DATABASE_URL, "jules_py_state_") as url:
        yield url


def psql(url, sql):
    out = subprocess.run(["psql", url, "-XAtqc", sql], check=True, capture_output=True, text=True, timeout=60)
    return out.stdout


def redis_services(action):
    """`$JULES_TEST_SERVICES redis start|stop`."""
    subprocess.run(shlex.split(SERVICES) + ["redis", action], check=True, capture_output=True, timeout=60)


@pytest.fixture
def redis_db(request):
    """A Redis logical database for this test alone, emptied first; Redis is left running at the end."""
    redis_services("start")
    database = RedisDatabase.for_test(REDIS_URL, request.node.name)
    database.run("FLUSHDB")
    yield database
    redis_services("start")
    database.run("FLUSHDB")


def service_env(database_url, redis, **overrides):
    env = isolated_env()
    env.update(JULES_DATABASE_URL=database_url, JULES_REDIS_URL=redis.url, JULES_STATE_KEY_PREFIX=KEY_PREFIX)
    env.update({name: str(value) for name, value in overrides.items()})
    return env


def create_households(service, count, prefix="State"):
    ids = []
    for start in range(0, count, 100):
        calls = [("household.create", {"name": f"{prefix} {index}"}) for index in range(start, min(count, start + 100))]
        for result in service.client.batch(calls):
            assert not isinstance(result, JulesRPCError), result
            ids.append(result["id"])
    assert len(set(ids)) == count
    return ids


def wait_for_drained_journal(service, timeout=120):
    def drained():
        stats = service.call("state.stats")
        return stats if stats["mode"] == "cache" and stats["journal_length"] == 0 else None

    return wait_until("the state journal to drain", drained, timeout, interval=0.2)


def stored_rows(database_url):
    """household_id -> (version, state) of every conversation_states row."""
    rows = {}
    for line in psql(database_url, "SELECT household_id, version, coalesce(state::text, 'null') "
                                   "FROM conversation_states").splitlines():
        household, version, state = line.split("|", 2)
        rows[household] = (int(version), json.loads(state))
    return rows


class Burst:
    """Writer threads, each with its own connection and its own households, sending `state.update` replaces with a
    checkable state until told to stop (or until `limit` updates have been sent in all).

    Records per household the versions acknowledged to the writer, in order, with the state sent."""

    def __init__(self, service, households, threads, limit=None, stop_on_connection_loss=False):
        self.service = service
        self.limit = limit
        self.stop_on_connection_loss = stop_on_connection_loss
        self.acknowledged = {household: [] for household in households}  # household -> [(version, state)]
        self.unavailable = 0
        self.unexpected = []
        self.lost = 0  # requests whose connection died (the SIGKILL); outcome unknown
        self.sent = 0
        self.acks = 0
        self.stop = threading.Event()
        self._lock = threading.Lock()
        owned = [households[index::threads] for index in range(threads)]
        self.threads = [threading.Thread(target=self._write, args=(index, own), daemon=True)
                        for index, own in enumerate(owned)]

    def start(self):
        for thread in self.threads:
            thread.start()

    def join(self, timeout=120):
        self.stop.set()
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.1, deadline - time.monotonic()))
        assert not any(thread.is_alive() for thread in self.threads), "a writer thread hung"

    def wait_for_acks(self, count, timeout=120):
        wait_until(f"{count} acknowledged updates", lambda: self.acks >= count or self.unexpected, timeout,
                   interval=0.01)
        assert not self.unexpected, self.unexpected[:5]

    def _take_ticket(self):
        with self._lock:
            if self.stop.is_set() or (self.limit is not None and self.sent >= self.limit):
                return None
            self.sent += 1
            return self.sent

    def _write(self, index, households):
        client = self.service.connect()
        try:
            round_number = 0
            while True:
                for household in households:
                    ticket = self._take_ticket()
                    if ticket is None:
                        return
                    state = {"n": ticket, "writer": index, "round": round_number, "note": f"update {ticket}"}
                    try:
                        version = client.call("state.update", {"household_id": household, "state": state})["version"]
                    except JulesRPCError as error:
                        with self._lock:
                            if error.code == UNAVAILABLE:
                                self.unavailable += 1
                            else:
                                self.unexpected.append(f"{household}: {error} {error.data}")
                        continue
                    except (JulesConnectionError, OSError) as error:
                        if self.stop_on_connection_loss:
                            with self._lock:
                                self.lost += 1
                            return
                        with self._lock:
                            self.unexpected.append(f"{household}: {error!r}")
                        return
                    with self._lock:
                        self.acknowledged[household].append((version, state))
                        self.acks += 1
                round_number += 1
        finally:
            client.close()

    def last_acknowledged(self):
        return {household: acks[-1] for household, acks in self.acknowledged.items() if acks}


# MARK: - Tests


def test_acknowledged_updates_survive_a_sigkill_mid_burst(fresh_database, redis_db, services):
    env = service_env(fresh_database, redis_db, JULES_STATE_RECLAIM_IDLE_MS=500)
    # The first instance persists a few entries at a time, so the journal is long when it dies.
    first = services(dict(env, JULES_STATE_PERSIST_BATCH="2"), name="first")
    households = create_households(first, 1000, prefix="Crash")

    burst = Burst(first, households, threads=12, limit=10_000, stop_on_connection_loss=True)
    burst.start()
    burst.wait_for_acks(5000)
    first.kill()  # SIGKILL: no drain, no goodbye
    burst.join()
    assert not burst.unexpected, burst.unexpected[:5]
    assert burst.unavailable == 0
    acknowledged = burst.last_acknowledged()
    assert 5000 <= burst.acks < 10_000, "the kill came in the middle of the burst"
    assert len(acknowledged) > 900

    # Acknowledged but not yet persisted when it died: the second instance must store these.
    assert int(redis_db.run("XLEN", JOURNAL)) > 0, "the journal was empty at the kill: nothing left to recover"
    # Entries read by an instance that died before acknowledging them: some by the first instance (it reads a
    # batch, then writes it to PostgreSQL); for certain, a batch read here by a consumer that never comes back.
    # The second instance claims them once they are idle for JULES_STATE_RECLAIM_IDLE_MS.
    redis_db.run("XREADGROUP", "GROUP", JOURNAL_GROUP, "dead-instance", "COUNT", "200", "STREAMS", JOURNAL, ">")
    assert int(redis_db.run("XPENDING", JOURNAL, JOURNAL_GROUP).splitlines()[0]) >= 1

    second = services(env, name="second")
    wait_for_drained_journal(second, timeout=120)
    assert int(redis_db.run("XPENDING", JOURNAL, JOURNAL_GROUP).splitlines()[0]) == 0

    redis_db.run("FLUSHDB")  # everything cached is gone: every read below must come from PostgreSQL
    problems = []
    for household in households:
        got = second.call("state.get", {"household_id": household})
        if got["source"] != "database":
            problems.append(f"{household}: first read after the flush came from {got['source']}")
        if household not in acknowledged:
            continue
        version, state = acknowledged[household]
        if got["version"] < version:
            problems.append(f"{household}: version {got['version']} < acknowledged {version}")
        elif got["version"] == version and got["state"] != state:
            problems.append(f"{household}: at version {version} state {got['state']} != acknowledged {state}")
    assert not problems, f"{len(problems)} problems, e.g. {problems[:5]}"
    again = second.call("state.get", {"household_id": households[0]})
    assert again["source"] == "cache"

    rows = stored_rows(fresh_database)
    missing = [household for household in acknowledged if household not in rows]
    assert not missing, f"{len(missing)} households with an acknowledged update have no row, e.g. {missing[:3]}"
    for household, (version, state) in acknowledged.items():
        stored_version, stored_state = rows[household]
        assert stored_version >= version, household
        if stored_version == version:
            assert stored_state == state, household
    second.stop()


def test_redis_stopped_and_started_during_a_burst(fresh_database, redis_db, services):
    service = services(service_env(fresh_database, redis_db), name="outage")
    households = create_households(service, 200, prefix="Outage")
    monitor = service.connect()

    burst = Burst(service, households, threads=8)
    burst.start()
    try:
        burst.wait_for_acks(1500)
        redis_services("stop")
        try:
            stopped_at = burst.acks
            burst.wait_for_acks(stopped_at + 1000)
            stats = wait_until("state.stats to report the database mode",
                               lambda: (s := monitor.call("state.stats"))["mode"] == "database" and s, timeout=30)
            assert stats["journal_length"] is None
            health = monitor.call("health.check")
            assert health["components"]["state"]["status"] == "degraded", health
            burst.wait_for_acks(burst.acks + 500)
        finally:
            redis_services("start")
        wait_until("state.stats to report the cache mode again",
                   lambda: monitor.call("state.stats")["mode"] == "cache", timeout=120)
        burst.wait_for_acks(burst.acks + 1500)
    finally:
        burst.join()
    assert not burst.unexpected, burst.unexpected[:5]
    assert burst.unavailable <= burst.acks // 100, f"{burst.unavailable} unavailable for {burst.acks} acknowledged"
    assert burst.acks >= 4500

    # Ordering: each household has one writer, whose acknowledged versions strictly increase.
    for household, acks in burst.acknowledged.items():
        versions = [version for version, _ in acks]
        assert all(a < b for a, b in zip(versions, versions[1:])), f"{household}: versions {versions}"

    wait_for_drained_journal(service, timeout=120)
    health = monitor.call("health.check")
    assert health["components"]["state"]["status"] == "healthy", health

    last = burst.last_acknowledged()
    assert len(last) == len(households)
    wrong = []
    for household, (version, state) in last.items():
        got = monitor.call("state.get", {"household_id": household})
        if (got["version"], got["state"]) != (version, state):
            wrong.append(f"{household}: got v{got['version']} {got['state']} ({got['source']}), "
                         f"acknowledged v{version} {state}")
    assert not wrong, f"{len(wrong)} households differ from their last acknowledged update, e.g. {wrong[:3]}"

    # Drained means stored: PostgreSQL holds the same.
    rows = stored_rows(fresh_database)
    stale = [household for household, acked in last.items() if rows.get(household) != acked]
    assert not stale, f"{len(stale)} rows differ from the last acknowledged update, e.g. {stale[:3]}"
    monitor.close()
    service.stop()


def test_serve_starts_while_redis_is_down_and_takes_it_up_when_it_answers(fresh_database, redis_db, services):
    redis_services("stop")
    try:
        service = services(service_env(fresh_database, redis_db, JULES_STARTUP_TIMEOUT_SECONDS=1), name="no-redis")
        assert "Redis is unreachable at start-up" in service.log
        household = create_households(service, 1, prefix="Without Redis")[0]
        first = service.call("state.update", {"household_id": household, "state": {"step": "one"}})["version"]
        got = service.call("state.get", {"household_id": household})
        assert (got["version"], got["state"], got["source"]) == (first, {"step": "one"}, "database")
        assert service.call("state.stats")["mode"] == "database"
        health = service.call("health.check")
        assert health["components"]["redis"]["status"] == "unhealthy", health
    finally:
        redis_services("start")
    wait_until("state.stats to report the cache mode",
               lambda: service.call("state.stats")["mode"] == "cache", timeout=120)
    second = service.call("state.update", {"household_id": household, "state": {"step": "two"}})["version"]
    assert second > first
    got = service.call("state.get", {"household_id": household})
    assert (got["version"], got["state"]) == (second, {"step": "two"})
    wait_for_drained_journal(service)
    assert stored_rows(fresh_database)[household] == (second, {"step": "two"})
    service.stop()


def test_serve_refuses_a_redis_that_answers_with_an_error(fresh_database, redis_db, services, jules_bin, short_tmp):
    # A password Redis does not want: a configuration to fix, not an outage to ride out.
    env = service_env(fresh_database, redis_db, JULES_STARTUP_TIMEOUT_SECONDS=1)
    env["JULES_REDIS_URL"] = env["JULES_REDIS_URL"].replace("unix://", "unix://:wrong-password@", 1)
    result = subprocess.run([jules_bin, "serve", "--socket", str(short_tmp / "s.sock")], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "cannot use Redis" in result.stderr
    assert "wrong-password" not in result.stderr


def test_ten_thousand_concurrent_reads(fresh_database, redis_db, services):
    service = services(service_env(fresh_database, redis_db), name="reads")
    households = create_households(service, 100, prefix="Reads")
    expected = {}
    for index, household in enumerate(households):
        if index % 10 == 9:
            expected[household] = (0, None)  # never written
            continue
        for step in range(1 + index % 3):
            state = {"household": index, "step": step}
            version = service.call("state.update", {"household_id": household, "state": state})["version"]
        expected[household] = (version, state)
    # A few states only in PostgreSQL, so some of the reads below are misses that load them.
    wait_for_drained_journal(service)
    for household in households[:5]:
        assert redis_db.run("DEL", KEY_PREFIX + household) == "1"

    connections, per_connection = 100, 100
    barrier = threading.Barrier(connections)
    failures = []
    answered = [0] * connections

    def read(index):
        try:
            wanted = {}
            lines = []
            for number in range(per_connection):
                household = households[(index * 7 + number) % len(households)]
                request_id = index * per_connection + number + 1
                wanted[request_id] = household
                lines.append(json.dumps({"jsonrpc": "2.0", "method": "state.get", "id": request_id,
                                         "params": {"household_id": household}}))
            payload = ("\n".join(lines) + "\n").encode()
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
                connection.settimeout(120)
                connection.connect(str(service.socket))
                barrier.wait(timeout=60)
                connection.sendall(payload)
                buffer = b""
                while len(wanted) > 0:
                    chunk = connection.recv(1 << 16)
                    if not chunk:
                        failures.append(f"connection {index}: closed with {len(wanted)} answers missing")
                        return
                    buffer += chunk
                    *complete, buffer = buffer.split(b"\n")
                    for line in complete:
                        if not line.strip():
                            continue
                        response = json.loads(line)
                        household = wanted.pop(response.get("id"), None)
                        if household is None:
                            failures.append(f"connection {index}: unexpected response {response}")
                        elif "error" in response:
                            failures.append(f"connection {index}: {response['error']}")
                        else:
                            result = response["result"]
                            if (result["version"], result["state"]) != expected[household]:
                                failures.append(f"{household}: got {result}, expected {expected[household]}")
                        answered[index] += 1
        except Exception as error:  # noqa: BLE001 - reported by the main thread
            failures.append(f"connection {index}: {error!r}")

    threads = [threading.Thread(target=read, args=(index,), daemon=True) for index in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    assert not any(thread.is_alive() for thread in threads), "a reader hung"
    assert not failures, f"{len(failures)} failures, e.g. {failures[:5]}"
    assert sum(answered) == connections * per_connection

    stats = service.call("state.stats")
    assert stats["cache_hits"] + stats["cache_misses"] >= connections * per_connection
    assert stats["cache_misses"] >= 5
    service.stop()


@pytest.mark.parametrize("path", ["cache", "database"])
def test_compare_and_set_across_connections(fresh_database, redis_db, services, path):
    service = services(service_env(fresh_database, redis_db), name=f"cas-{path}")
    household, other = create_households(service, 2, prefix="CAS")
    contenders = 20
    clients = [service.connect() for _ in range(contenders)]
    try:
        if path == "database":
            redis_services("stop")
            # Any state call finds Redis gone and switches to PostgreSQL.
            service.call("state.update", {"household_id": other, "state": {"warm": True}})
            assert service.call("state.stats")["mode"] == "database"
            # PostgreSQL may lack versions Redis acknowledged just before it went: a compare-and-set waits until
            # the household has been written around the cache, whose version is then the newest.
            current = service.call("state.get", {"household_id": household})["version"]
            with pytest.raises(JulesRPCError) as refused:
                service.call("state.update", {"household_id": household, "state": {"early": True},
                                              "expected_version": current})
            assert refused.value.code == UNAVAILABLE and "expected_version" in refused.value.message, refused.value
            assert service.call("state.get", {"household_id": household})["version"] == current
            service.call("state.update", {"household_id": household, "state": {"warm": True}})
        rounds = [("replace", None), ("replace", None), ("merge", None), ("replace", True), ("merge", True),
                  ("replace", None)]
        for round_number, (mode, durable) in enumerate(rounds):
            current = service.call("state.get", {"household_id": household})["version"]
            barrier = threading.Barrier(contenders)
            outcomes = [None] * contenders

            def contend(index, mode=mode, durable=durable, current=current, barrier=barrier, outcomes=outcomes,
                        round_number=round_number):
                params = {"household_id": household, "mode": mode, "expected_version": current,
                          "state": {"winner": index, "round": round_number, f"r{round_number}": True}}
                if durable is not None:
                    params["durable"] = durable
                barrier.wait(timeout=60)
                try:
                    outcomes[index] = ("ok", clients[index].call("state.update", params)["version"])
                except JulesRPCError as error:
                    outcomes[index] = ("error", error)
                except Exception as error:  # noqa: BLE001 - reported by the main thread
                    outcomes[index] = ("crash", repr(error))

            threads = [threading.Thread(target=contend, args=(index,), daemon=True) for index in range(contenders)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(120)
            assert not any(thread.is_alive() for thread in threads)
            winners = [index for index, outcome in enumerate(outcomes) if outcome[0] == "ok"]
            assert len(winners) == 1, f"round {round_number} ({mode}): winners {winners}, outcomes {outcomes}"
            new_version = outcomes[winners[0]][1]
            assert new_version > current
            if path == "cache":
                assert new_version == current + 1
            for index, outcome in enumerate(outcomes):
                if index in winners:
                    continue
                assert outcome[0] == "error", outcome
                error = outcome[1]
                assert error.code == CONFLICT and error.type == "conflict", error
                assert error.data["current_version"] == new_version, error.data

            got = service.call("state.get", {"household_id": household})
            assert got["version"] == new_version
            winner = winners[0]
            assert got["state"]["winner"] == winner and got["state"]["round"] == round_number
            assert got["state"][f"r{round_number}"] is True
            if mode == "merge" and round_number > 0:
                assert got["state"][f"r{round_number - 1}"] is True, "a merge keeps the other members"
            if mode == "replace" and round_number > 0:
                assert f"r{round_number - 1}" not in got["state"]
            if durable:
                stored = stored_rows(fresh_database)[household]
                assert stored == (got["version"], got["state"])
    finally:
        for client in clients:
            client.close()
        if path == "database":
            redis_services("start")
    if path == "database":
        wait_until("the cache mode", lambda: service.call("state.stats")["mode"] == "cache", timeout=120)
    wait_for_drained_journal(service)
    final = service.call("state.get", {"household_id": household})
    assert stored_rows(fresh_database)[household] == (final["version"], final["state"])
    service.stop()


@pytest.mark.parametrize("variable, value, message", [
    ("JULES_STATE_PERSIST_INTERVAL_MS", "-1", "must be between 0 and 10000"),
    ("JULES_STATE_PERSIST_INTERVAL_MS", "10001", "must be between 0 and 10000"),
    ("JULES_STATE_PERSIST_INTERVAL_MS", "50ms", "must be an integer"),
    ("JULES_STATE_PERSIST_BATCH", "0", "must be between 1 and 10000"),
    ("JULES_STATE_PERSIST_BATCH", "10001", "must be between 1 and 10000"),
])
def test_serve_refuses_persister_settings_out_of_range(jules_bin, short_tmp, variable, value, message):
    # Nothing is reached: the settings are checked before any connection is made.
    env = dict(isolated_env(), JULES_DATABASE_URL="postgresql://nobody@/none?host=/nonexistent",
               JULES_REDIS_URL="unix:///nonexistent/redis.sock", **{variable: value})
    result = subprocess.run([jules_bin, "serve", "--socket", str(short_tmp / "jules.sock")], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 64, (result.returncode, result.stderr)
    assert f"{variable} {message}" in result.stderr, result.stderr
