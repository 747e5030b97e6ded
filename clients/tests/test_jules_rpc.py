"""Tests of the Python client library and CLI against the fake server."""

from __future__ import annotations

import decimal
import json
import threading
import time
from pathlib import Path

import pytest

import jules_rpc
from jules_rpc import (
    JulesConnectionError,
    JulesProtocolError,
    JulesRPCClient,
    JulesRPCError,
    JulesTimeoutError,
)

CLIENTS_DIR = Path(jules_rpc.__file__).resolve().parent


# --------------------------------------------------------------------------
# Library
# --------------------------------------------------------------------------


def test_call_returns_result_and_sends_valid_request(fake_server):
    with JulesRPCClient(fake_server.path) as client:
        assert client.call("echo", {"text": "héllo ✓"}) == {"text": "héllo ✓"}
        assert client.call("echo", [1, 2]) == [1, 2]
        assert client.call("echo") is None
    first, second, third = fake_server.requests
    assert first == {"jsonrpc": "2.0", "id": 1, "method": "echo", "params": {"text": "héllo ✓"}}
    assert second["id"] == 2 and third["id"] == 3, "ids increase per client"
    assert "params" not in third, "absent params are omitted, not sent as null"


def test_error_response_raises_with_fields(fake_server):
    with JulesRPCClient(fake_server.path) as client:
        with pytest.raises(JulesRPCError) as caught:
            client.call("fail", {})
    error = caught.value
    assert error.code == -32001
    assert error.message == "Not found"
    assert error.data == {"type": "not_found", "correlation_id": "gen-1"}
    assert error.correlation_id == "gen-1"
    assert error.type == "not_found"
    assert str(error) == "error -32001: Not found (type=not_found, correlation_id=gen-1)"


def test_meta_is_sent_in_params(fake_server):
    with JulesRPCClient(fake_server.path) as client:
        params = {"a": 1, "_meta": {"trace": "x"}}
        client.call("echo", params, correlation_id="cid-7", idempotency_key="key-9")
        with pytest.raises(JulesRPCError) as caught:
            client.call("fail", correlation_id="cid-8")
    sent = fake_server.requests[0]["params"]
    assert sent == {"a": 1, "_meta": {"trace": "x", "correlation_id": "cid-7", "idempotency_key": "key-9"}}
    assert params == {"a": 1, "_meta": {"trace": "x"}}, "the caller's dict is not mutated"
    assert fake_server.requests[1]["params"] == {"_meta": {"correlation_id": "cid-8"}}
    assert caught.value.correlation_id == "cid-8"


def test_meta_with_positional_params_is_rejected(fake_server):
    with JulesRPCClient(fake_server.path) as client:
        with pytest.raises(ValueError, match="positional"):
            client.call("echo", [1], correlation_id="c")
    assert fake_server.requests == []


def test_socket_path_from_env(fake_server, monkeypatch):
    monkeypatch.setenv("JULES_SOCKET", fake_server.path)
    with JulesRPCClient() as client:
        assert client.socket_path == fake_server.path
        assert client.call("echo", {"x": 1}) == {"x": 1}


def test_no_socket_path_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("JULES_SOCKET", raising=False)
    with pytest.raises(ValueError, match="JULES_SOCKET"):
        JulesRPCClient()


def test_missing_socket_raises_connection_error(short_tmp):
    with JulesRPCClient(str(short_tmp / "absent.sock")) as client:
        with pytest.raises(JulesConnectionError, match="cannot connect"):
            client.call("echo")


def test_notify_gets_no_reply_and_does_not_disturb_calls(fake_server):
    with JulesRPCClient(fake_server.path) as client:
        assert client.notify("echo", {"n": 1}) is None
        assert client.call("echo", {"n": 2}) == {"n": 2}
    notification, call = fake_server.wait_for_requests(2)
    assert notification == {"jsonrpc": "2.0", "method": "echo", "params": {"n": 1}}
    assert call["id"] == 1, "notifications do not use up ids"


def test_batch_matches_responses_by_id(fake_server):
    with JulesRPCClient(fake_server.path) as client:
        results = client.batch([("echo", {"n": 1}), ("fail", None), ("echo", [3]), ("nope", {})])
    assert results[0] == {"n": 1}
    assert isinstance(results[1], JulesRPCError) and results[1].code == -32001
    assert results[2] == [3]
    assert isinstance(results[3], JulesRPCError) and results[3].code == -32601
    (sent,) = fake_server.requests
    assert [request["id"] for request in sent] == [1, 2, 3, 4]


def test_batch_with_missing_response_is_protocol_error(fake_server):
    fake_server.tamper = lambda reply: reply[1:] if isinstance(reply, list) else reply
    with JulesRPCClient(fake_server.path) as client:
        with pytest.raises(JulesProtocolError, match="lacks ids"):
            client.batch([("echo", {}), ("echo", {})])


def test_empty_batch_is_rejected(fake_server):
    with JulesRPCClient(fake_server.path) as client:
        with pytest.raises(ValueError):
            client.batch([])


def test_mismatched_id_is_protocol_error_and_connection_recovers(fake_server):
    fake_server.tamper = lambda reply: {**reply, "id": 999}
    with JulesRPCClient(fake_server.path) as client:
        with pytest.raises(JulesProtocolError, match="999"):
            client.call("echo", {})
        fake_server.tamper = None
        assert client.call("echo", {"ok": True}) == {"ok": True}
    assert fake_server.connections == 2, "the connection is dropped after a protocol error"


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(b"not json\n", id="invalid-json"),
        pytest.param(b'{"jsonrpc":"2.0","id":1}\n', id="no-result-or-error"),
        pytest.param(b'{"jsonrpc":"2.0","id":true,"result":1}\n', id="boolean-id"),
        pytest.param(b'{"jsonrpc":"2.0","id":1,"error":{"code":"x"}}\n', id="malformed-error"),
        pytest.param(b'[{"jsonrpc":"2.0","id":1,"result":1}]\n', id="array-for-single-call"),
    ],
)
def test_malformed_replies_are_protocol_errors(fake_server, reply):
    fake_server.tamper = lambda _: reply
    with JulesRPCClient(fake_server.path) as client:
        with pytest.raises(JulesProtocolError):
            client.call("echo", {})


def test_oversized_response_is_rejected(fake_server):
    with JulesRPCClient(fake_server.path, max_response_bytes=1024) as client:
        assert client.call("echo", {"s": "x" * 500})["s"] == "x" * 500
        with pytest.raises(JulesProtocolError, match="exceeds 1024 bytes"):
            client.call("echo", {"s": "x" * 5000})


def test_timeout_raises_and_next_call_works(fake_server):
    with JulesRPCClient(fake_server.path, timeout=0.3) as client:
        started = time.monotonic()
        with pytest.raises(JulesTimeoutError):
            client.call("slow", {"seconds": 5})
        assert time.monotonic() - started < 3
        # The late "done" must not be taken as the answer to this call.
        assert client.call("echo", {"after": "timeout"}) == {"after": "timeout"}
    assert issubclass(JulesTimeoutError, TimeoutError)


def test_reconnects_when_server_closed_idle_connection(fake_server):
    fake_server.close_after_reply = True
    with JulesRPCClient(fake_server.path) as client:
        for n in range(5):
            assert client.call("echo", {"n": n}) == {"n": n}
    assert fake_server.connections == 5
    assert len(fake_server.requests) == 5, "no request was sent twice"


def test_reconnect_covers_server_closing_just_before_send(fake_server):
    with JulesRPCClient(fake_server.path) as client:
        assert client.call("echo", {"n": 1}) == {"n": 1}
        # Simulate the race where the peer closes after the idle check passed.
        client._peer_closed = lambda: False
        fake_server.close_after_reply = True
        assert client.call("echo", {"n": 2}) == {"n": 2}  # server closes after this reply
        time.sleep(0.1)
        assert client.call("echo", {"n": 3}) == {"n": 3}
    assert [request["params"]["n"] for request in fake_server.requests] == [1, 2, 3]


def test_server_dropping_a_read_request_is_not_retried(fake_server):
    with JulesRPCClient(fake_server.path) as client:
        with pytest.raises(JulesConnectionError, match="without replying"):
            client.call("drop", {})
        assert client.call("echo", {"n": 1}) == {"n": 1}
    assert [request["method"] for request in fake_server.requests] == ["drop", "echo"], (
        "a request the server may have run is never sent twice"
    )


def test_client_is_thread_safe(fake_server):
    errors: list[BaseException] = []
    with JulesRPCClient(fake_server.path) as client:

        def worker(worker_id: int) -> None:
            try:
                for n in range(20):
                    assert client.call("echo", {"w": worker_id, "n": n}) == {"w": worker_id, "n": n}
            except BaseException as exc:  # surfaced in the main thread below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    ids = [request["id"] for request in fake_server.requests]
    assert sorted(ids) == list(range(1, 81)) and len(set(ids)) == 80


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------


def test_cli_prints_result(fake_server, python_cli):
    proc = python_cli("--socket", fake_server.path, "echo", '{"b": "ü", "a": [1]}')
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"b": "ü", "a": [1]}
    assert proc.stdout == json.dumps({"b": "ü", "a": [1]}, indent=2, ensure_ascii=False) + "\n"
    assert proc.stderr == ""


def test_cli_error_exit_code_and_stderr(fake_server, python_cli):
    proc = python_cli("--socket", fake_server.path, "--correlation-id", "abc", "fail")
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.strip() == "error -32001: Not found (type=not_found, correlation_id=abc)"


def test_cli_sends_meta(fake_server, python_cli):
    proc = python_cli(
        "--socket", fake_server.path, "--correlation-id", "cid-1", "--idempotency-key", "k-1",
        "echo", '{"x": 1}',
    )
    assert proc.returncode == 0, proc.stderr
    assert fake_server.last_request["params"]["_meta"] == {"correlation_id": "cid-1", "idempotency_key": "k-1"}


def test_cli_raw_prints_whole_response(fake_server, python_cli):
    proc = python_cli("--socket", fake_server.path, "--raw", "echo", "[1]")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"jsonrpc": "2.0", "id": 1, "result": [1]}
    proc = python_cli("--socket", fake_server.path, "--raw", "fail")
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["error"]["code"] == -32001


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ("{not json", "not valid JSON"),
        ("42", "got a number"),
        ('"text"', "got a string"),
        ("null", "got null"),
        ('{"n": NaN}', "not valid JSON"),
        ('{"n": Infinity}', "not valid JSON"),
    ],
)
def test_cli_rejects_bad_params(fake_server, python_cli, params, problem):
    proc = python_cli("--socket", fake_server.path, "echo", params)
    assert proc.returncode == 2
    assert "PARAMS_JSON" in proc.stderr and problem in proc.stderr
    assert fake_server.requests == []


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "1e300", "86401"])
def test_cli_refuses_timeouts_outside_a_day(fake_server, python_cli, value):
    proc = python_cli("--socket", fake_server.path, "--timeout", value, "echo")
    assert proc.returncode == 2, proc.stderr
    assert "--timeout" in proc.stderr and "Traceback" not in proc.stderr
    assert fake_server.requests == []


def test_cli_keeps_numbers_exactly(fake_server, python_cli):
    params = '{"big": 12345678901234567890, "huge": 1e400, "fine": 0.10000000000000000000001, "neg": -2.50}'
    proc = python_cli("--socket", fake_server.path, "echo", params)
    assert proc.returncode == 0, proc.stderr
    sent = fake_server.requests[0]["params"]
    printed = json.loads(proc.stdout, parse_float=decimal.Decimal)
    for value in (sent, printed):
        assert value["big"] == 12345678901234567890
        assert str(value["huge"]) == "1E+400"
        assert str(value["fine"]) == "0.10000000000000000000001"
        assert str(value["neg"]) == "-2.50"
    assert "Infinity" not in proc.stdout


def test_cli_rejects_meta_with_positional_params(fake_server, python_cli):
    proc = python_cli("--socket", fake_server.path, "--correlation-id", "c", "echo", "[1]")
    assert proc.returncode == 2
    assert "positional" in proc.stderr


def test_cli_missing_socket_exits_3(short_tmp, python_cli):
    proc = python_cli("--socket", str(short_tmp / "absent.sock"), "echo")
    assert proc.returncode == 3
    assert "cannot connect" in proc.stderr and "absent.sock" in proc.stderr


def test_cli_without_any_socket_is_usage_error(python_cli):
    proc = python_cli("echo")
    assert proc.returncode == 2
    assert "JULES_SOCKET" in proc.stderr


def test_cli_uses_env_socket(fake_server, python_cli, make_env):
    proc = python_cli("echo", '{"via": "env"}', env=make_env(JULES_SOCKET=fake_server.path))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"via": "env"}


def test_cli_timeout_exits_3(fake_server, python_cli):
    proc = python_cli("--socket", fake_server.path, "--timeout", "0.3", "slow", '{"seconds": 5}')
    assert proc.returncode == 3
    assert "no reply" in proc.stderr


def test_cli_runs_as_module(fake_server, python_cli):
    proc = python_cli("--socket", fake_server.path, "echo", "[7]", module=True, cwd=CLIENTS_DIR)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [7]
