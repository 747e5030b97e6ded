"""Tests of the bash client ``jules-rpc`` against the fake server.

Every test that talks to the server runs once per transport (the python3
fallback always; socat only where it is installed), via ``shell_cli``.
"""

from __future__ import annotations

import decimal
import json
import time
import threading
import os
import shutil
import socket
import stat
import subprocess
from pathlib import Path

import pytest

SHELL_CLIENT = Path(__file__).resolve().parent.parent / "jules-rpc"

pytestmark = pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed")


def test_is_executable_bash_script():
    assert SHELL_CLIENT.stat().st_mode & stat.S_IXUSR
    lines = SHELL_CLIENT.read_text().splitlines()
    assert lines[0] == "#!/usr/bin/env bash"
    assert "set -euo pipefail" in lines


def test_prints_result(fake_server, shell_cli):
    proc = shell_cli("--socket", fake_server.path, "echo", '{"b": "ü", "a": [1, {"c": null}]}')
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"b": "ü", "a": [1, {"c": None}]}
    assert '  "b": "ü"' in proc.stdout, "pretty-printed with 2-space indent, UTF-8 unescaped"
    assert proc.stderr == ""
    assert fake_server.last_request == {
        "jsonrpc": "2.0", "id": 1, "method": "echo", "params": {"b": "ü", "a": [1, {"c": None}]},
    }


def test_without_params_sends_no_params(fake_server, shell_cli):
    proc = shell_cli("--socket", fake_server.path, "echo")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "null"
    assert "params" not in fake_server.last_request


def test_error_exit_code_and_stderr(fake_server, shell_cli):
    proc = shell_cli("--socket", fake_server.path, "fail", "{}")
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.strip() == "error -32001: Not found (type=not_found, correlation_id=gen-1)"


def test_correlation_id_is_sent_and_echoed_in_error(fake_server, shell_cli):
    proc = shell_cli("--socket", fake_server.path, "--correlation-id", "cid-42", "fail", '{"x": 1}')
    assert proc.returncode == 1
    assert "correlation_id=cid-42" in proc.stderr
    assert fake_server.last_request["params"] == {"x": 1, "_meta": {"correlation_id": "cid-42"}}


def test_correlation_id_merges_into_existing_meta(fake_server, shell_cli):
    proc = shell_cli("--socket", fake_server.path, "--correlation-id", "c", "echo", '{"_meta": {"k": 1}}')
    assert proc.returncode == 0, proc.stderr
    assert fake_server.last_request["params"] == {"_meta": {"k": 1, "correlation_id": "c"}}


def test_correlation_id_without_params(fake_server, shell_cli):
    proc = shell_cli("--socket", fake_server.path, "--correlation-id", "only", "echo")
    assert proc.returncode == 0, proc.stderr
    assert fake_server.last_request["params"] == {"_meta": {"correlation_id": "only"}}


def test_raw_prints_whole_response(fake_server, shell_cli):
    proc = shell_cli("--socket", fake_server.path, "--raw", "echo", "[1, 2]")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"jsonrpc": "2.0", "id": 1, "result": [1, 2]}
    proc = shell_cli("--socket", fake_server.path, "--raw", "fail")
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["error"]["code"] == -32001
    assert proc.stderr.startswith("error -32001: Not found")


def test_socket_from_env(fake_server, shell_cli, make_env):
    proc = shell_cli("echo", '{"via": "env"}', env=make_env(JULES_SOCKET=fake_server.path))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"via": "env"}


def test_socket_option_overrides_env(fake_server, shell_cli, make_env, short_tmp):
    env = make_env(JULES_SOCKET=str(short_tmp / "wrong.sock"))
    proc = shell_cli("--socket", fake_server.path, "echo", "[1]", env=env)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        pytest.param(["echo", "{not json"], "not valid JSON", id="invalid-json"),
        pytest.param(["echo", "42"], "got number", id="number"),
        pytest.param(["echo", '"s"'], "got string", id="string"),
        pytest.param(["echo", "{} {}"], "not valid JSON", id="two-values"),
        pytest.param(["--correlation-id", "c", "echo", "[1]"], "needs PARAMS_JSON to be an object", id="meta-with-array"),
        pytest.param(["bad method"], "without whitespace", id="method-with-space"),
        pytest.param([""], "non-empty", id="empty-method"),
        pytest.param([], "missing METHOD", id="no-method"),
        pytest.param(["echo", "{}", "extra"], "too many arguments", id="extra-argument"),
        pytest.param(["--timeout", "0", "echo"], "--timeout", id="zero-timeout"),
        pytest.param(["--timeout", "soon", "echo"], "--timeout", id="bad-timeout"),
        pytest.param(["--timeout", "86401", "echo"], "at most 86400", id="timeout-over-a-day"),
        pytest.param(["--timeout", "1" + "0" * 30, "echo"], "at most 86400", id="huge-timeout"),
        pytest.param(["--bogus", "echo"], "unknown option", id="unknown-option"),
        pytest.param(["echo", "--socket"], "needs a value", id="option-without-value"),
    ],
)
def test_usage_errors_exit_2(fake_server, shell_cli, args, problem):
    if args[-1:] != ["--socket"]:
        args = ["--socket", fake_server.path, *args]
    proc = shell_cli(*args)
    assert proc.returncode == 2, proc.stderr
    assert problem in proc.stderr
    assert fake_server.requests == []


def test_numbers_are_kept_exactly(fake_server, shell_cli):
    params = '{"big": 12345678901234567890, "huge": 1e400, "fine": 0.10000000000000000000001}'
    for extra in ([], ["--correlation-id", "c-1"], ["--raw"]):
        proc = shell_cli("--socket", fake_server.path, *extra, "echo", params)
        assert proc.returncode == 0, proc.stderr
        printed = json.loads(proc.stdout, parse_float=decimal.Decimal)
        if extra == ["--raw"]:
            printed = printed["result"]
        sent = fake_server.requests[-1]["params"]
        for value in (sent, printed):
            assert value["big"] == 12345678901234567890
            assert str(value["huge"]) == "1E+400"
            assert str(value["fine"]) == "0.10000000000000000000001"
        if extra[:1] == ["--correlation-id"]:
            assert sent["_meta"] == {"correlation_id": "c-1"}


def test_a_server_that_trickles_bytes_cannot_extend_the_timeout(short_tmp, shell_cli, make_env):
    path = short_tmp / "trickle.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)

    def trickle():
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            for _ in range(100):  # a byte every 0.1 s, never a newline
                try:
                    connection.sendall(b" ")
                except OSError:
                    return
                time.sleep(0.1)

    threading.Thread(target=trickle, daemon=True).start()
    try:
        started = time.monotonic()
        proc = shell_cli("--socket", str(path), "--timeout", "1", "echo", env=make_env(JULES_RPC_TRANSPORT="python"),
                         timeout=30)
        assert proc.returncode == 3
        assert "timed out" in proc.stderr
        assert time.monotonic() - started < 5
    finally:
        listener.close()


def test_invalid_params_are_not_echoed(fake_server, shell_cli):
    proc = shell_cli("--socket", fake_server.path, "member.find", '{"phone": "+14155550123"')
    assert proc.returncode == 2
    assert "not valid JSON" in proc.stderr
    assert "4155550123" not in proc.stderr


def test_no_socket_configured_is_usage_error(shell_cli):
    proc = shell_cli("echo")
    assert proc.returncode == 2
    assert "JULES_SOCKET" in proc.stderr


def test_missing_socket_exits_3(short_tmp, shell_cli):
    proc = shell_cli("--socket", str(short_tmp / "absent.sock"), "echo")
    assert proc.returncode == 3
    assert "absent.sock" in proc.stderr


def test_refused_connection_exits_3(short_tmp, shell_cli):
    # A socket file nobody listens on any more: connect() is refused.
    path = str(short_tmp / "stale.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.close()
    proc = shell_cli("--socket", path, "echo")
    assert proc.returncode == 3
    assert "no reply" in proc.stderr


def test_timeout_exits_3(fake_server, shell_cli):
    proc = shell_cli("--socket", fake_server.path, "--timeout", "0.5", "slow", '{"seconds": 10}', timeout=8)
    assert proc.returncode == 3
    assert "timed out" in proc.stderr


def test_server_closing_without_reply_exits_3(fake_server, shell_cli):
    proc = shell_cli("--socket", fake_server.path, "drop")
    assert proc.returncode == 3
    assert "no reply" in proc.stderr


def test_mismatched_id_exits_3(fake_server, shell_cli):
    fake_server.tamper = lambda reply: {**reply, "id": 999}
    proc = shell_cli("--socket", fake_server.path, "echo", '{"phone": "+14155550123"}')
    assert proc.returncode == 3
    assert "protocol error" in proc.stderr
    assert "4155550123" not in proc.stderr, "the reply is not echoed"


def test_does_not_wait_for_server_to_close(fake_server, shell_cli):
    # The fake keeps connections open, like the real server: the client must
    # return after the first reply line, not when its timeout expires.
    proc = shell_cli("--socket", fake_server.path, "--timeout", "20", "echo", "[1]", timeout=10)
    assert proc.returncode == 0, proc.stderr


def test_stands_alone_without_the_python_client(fake_server, shell_cli, short_tmp):
    lone = short_tmp / "jules-rpc"
    shutil.copy2(SHELL_CLIENT, lone)
    proc = shell_cli("--socket", fake_server.path, "echo", '{"alone": true}', executable=lone)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"alone": True}


def test_auto_transport_picks_what_is_installed(fake_server, make_env):
    env = make_env(JULES_SOCKET=fake_server.path, JULES_RPC_TRANSPORT="auto")
    proc = subprocess.run([str(SHELL_CLIENT), "echo", "[1]"], capture_output=True, text=True, env=env, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [1]


def test_unknown_transport_is_usage_error(fake_server, shell_cli, make_env):
    proc = shell_cli("--socket", fake_server.path, "echo", env=make_env(JULES_RPC_TRANSPORT="carrier-pigeon"))
    assert proc.returncode == 2
    assert "JULES_RPC_TRANSPORT" in proc.stderr


def test_help_exits_0():
    proc = subprocess.run([str(SHELL_CLIENT), "--help"], capture_output=True, text=True, env=os.environ.copy())
    assert proc.returncode == 0
    assert proc.stdout.startswith("Usage: jules-rpc")
