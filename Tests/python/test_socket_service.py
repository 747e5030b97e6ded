"""`jules serve --socket` as a process: signals, socket file handling and start-up errors."""
import json
import os
import signal
import socket
import stat
import subprocess

import pytest

from service_support import wait_for_socket


def call(path, request):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(20)
        client.connect(str(path))
        client.sendall((json.dumps(request) + "\n").encode())
        data = b""
        while not data.endswith(b"\n"):
            chunk = client.recv(65536)
            if not chunk:
                break
            data += chunk
    return json.loads(data)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly_and_removes_the_socket(socket_server, signum):
    path, process, stderr_path = socket_server
    mode = stat.S_IMODE(os.stat(path).st_mode)
    assert mode == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert call(path, {"jsonrpc": "2.0", "method": "health.live", "id": 1})["result"]["status"] == "ok"
    process.send_signal(signum)
    assert process.wait(timeout=30) == 0
    assert not path.exists()


def test_second_server_on_a_live_socket_is_refused(socket_server, jules_bin):
    path, _, _ = socket_server
    second = subprocess.run(
        [jules_bin, "serve", "--socket", str(path)], capture_output=True, timeout=60, stdin=subprocess.DEVNULL
    )
    assert second.returncode != 0
    assert b"another server is listening" in second.stderr
    # The first one still answers.
    assert call(path, {"jsonrpc": "2.0", "method": "health.live", "id": 2})["result"]["status"] == "ok"


def test_killed_server_leaves_a_stale_socket_that_the_next_one_replaces(jules_bin, short_tmp):
    path = short_tmp / "j.sock"
    first = subprocess.Popen([jules_bin, "serve", "--socket", str(path)], stderr=subprocess.DEVNULL)
    wait_for_socket(path, first)
    first.kill()
    first.wait()
    assert path.exists()
    second = subprocess.Popen([jules_bin, "serve", "--socket", str(path)], stderr=subprocess.DEVNULL)
    try:
        wait_for_socket(path, second)
        assert call(path, {"jsonrpc": "2.0", "method": "health.live", "id": 3})["result"]["status"] == "ok"
    finally:
        second.terminate()
        assert second.wait(timeout=30) == 0


def storage_env(**overrides):
    """The environment with only the storage URLs and keys of the JULES_ variables, plus `overrides`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JULES_")}
    for name in ("JULES_DATABASE_URL", "JULES_REDIS_URL", "JULES_ENCRYPTION_KEYS", "JULES_BLIND_INDEX_KEY"):
        if name in os.environ:
            env[name] = os.environ[name]
    env.update(overrides)
    return env


@pytest.mark.parametrize(
    "args, message",
    [
        ([], b"nothing to serve on"),
        (["--socket", "/tmp/" + "x" * 200], b"at most 107"),
        (["--socket", "/tmp/j.sock", "--socket-mode", "999"], b"--socket-mode"),
        (["--socket", "/tmp/j.sock", "--max-batch", "0"], b"--max-batch"),
        (["--socket", "/tmp/j.sock", "--log-level", "loud"], b"--log-level"),
    ],
)
def test_bad_configuration_is_a_clear_error(jules_bin, args, message):
    result = subprocess.run(
        [jules_bin, "serve", *args], capture_output=True, timeout=60, stdin=subprocess.DEVNULL, env=storage_env()
    )
    assert result.returncode != 0
    assert message in result.stderr, result.stderr


@pytest.mark.parametrize("missing", ["JULES_DATABASE_URL", "JULES_REDIS_URL"])
def test_missing_storage_url_names_the_variable(jules_bin, missing):
    env = storage_env()
    env.pop(missing, None)
    result = subprocess.run(
        [jules_bin, "serve", "--stdio"], capture_output=True, timeout=60, stdin=subprocess.DEVNULL, env=env
    )
    assert result.returncode != 0
    assert missing.encode() + b" is not set" in result.stderr, result.stderr


@pytest.mark.parametrize(
    "variable, url, what",
    [
        ("JULES_DATABASE_URL", "postgresql://jules:hunter2secret@/jules?host=/nonexistent/pg", b"PostgreSQL"),
        ("JULES_REDIS_URL", "redis://:hunter2secret@127.0.0.1:1/0", b"Redis"),
    ],
)
def test_unreachable_server_at_startup_is_named_without_its_password(jules_bin, variable, url, what):
    env = storage_env(**{variable: url, "JULES_STARTUP_TIMEOUT_SECONDS": "1"})
    result = subprocess.run(
        [jules_bin, "serve", "--stdio"], capture_output=True, timeout=120, stdin=subprocess.DEVNULL, env=env
    )
    assert result.returncode != 0
    assert b"cannot reach " + what in result.stderr, result.stderr
    assert b"hunter2secret" not in result.stderr
