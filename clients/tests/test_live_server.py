"""Integration tests of both clients against the real ``jules`` server.

They run only when JULES_BIN names the built executable, e.g.::

    JULES_BIN=$(swift build --show-bin-path)/jules python3 -m pytest -q clients/tests
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from jules_rpc import JulesRPCClient, JulesRPCError

JULES_BIN = os.environ.get("JULES_BIN", "")
STARTUP_TIMEOUT = 30.0
SHUTDOWN_TIMEOUT = 15.0
UNKNOWN_METHOD = "no.such.method"

pytestmark = pytest.mark.skipif(
    not JULES_BIN, reason="JULES_BIN is not set; point it at the built jules executable to run live tests"
)


class LiveServer:
    """``jules serve --socket DIR/j.sock`` as a subprocess, logs kept in DIR."""

    def __init__(self, directory: Path):
        binary = Path(JULES_BIN)
        # Set but wrong is a mistake to report, not a reason to skip quietly.
        assert binary.is_file() and os.access(binary, os.X_OK), f"JULES_BIN={JULES_BIN} is not an executable file"
        self.socket_path = directory / "j.sock"
        self.stderr_path = directory / "stderr.log"
        env = {key: value for key, value in os.environ.items() if key != "JULES_SOCKET"}
        with open(self.stderr_path, "wb") as stderr, open(directory / "stdout.log", "wb") as stdout:
            self.process = subprocess.Popen(
                [str(binary), "serve", "--socket", str(self.socket_path)],
                stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, env=env,
            )
        self._wait_until_listening()

    def stderr_text(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def _wait_until_listening(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"jules exited with {self.process.returncode} on startup:\n{self.stderr_text()}")
            if self.socket_path.exists():
                probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    probe.connect(str(self.socket_path))
                    return
                except OSError:
                    pass  # bound but not yet listening
                finally:
                    probe.close()
            time.sleep(0.05)
        self.stop()
        pytest.fail(f"jules did not listen on {self.socket_path} within {STARTUP_TIMEOUT} s:\n{self.stderr_text()}")

    def terminate(self) -> int:
        """SIGTERM, then the exit code (killing it if it does not stop in time)."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=SHUTDOWN_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"jules ignored SIGTERM for {SHUTDOWN_TIMEOUT} s:\n{self.stderr_text()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=SHUTDOWN_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture(scope="module")
def live_dir():
    # Short on purpose: AF_UNIX paths are limited to ~107 bytes.
    path = Path(tempfile.mkdtemp(prefix="jrpc-live-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def live_server(live_dir):
    server = LiveServer(live_dir)
    yield server
    server.stop()


def check_health(result: object) -> None:
    assert isinstance(result, dict), result
    assert result.get("status") == "ok"
    assert isinstance(result.get("version"), str) and result["version"]
    uptime = result.get("uptime_seconds")
    assert isinstance(uptime, (int, float)) and not isinstance(uptime, bool) and uptime >= 0


def check_discover(result: object) -> None:
    assert isinstance(result, dict), result
    assert "openrpc" in result
    assert "methods" in result


# --------------------------------------------------------------------------
# Python library
# --------------------------------------------------------------------------


def test_library_health_live(live_server):
    with JulesRPCClient(str(live_server.socket_path), timeout=10) as client:
        check_health(client.call("health.live"))
        check_health(client.call("health.live"))  # the connection is reused


def test_library_discover(live_server):
    with JulesRPCClient(str(live_server.socket_path), timeout=10) as client:
        check_discover(client.call("rpc.discover"))


def test_library_unknown_method(live_server):
    with JulesRPCClient(str(live_server.socket_path), timeout=10) as client:
        with pytest.raises(JulesRPCError) as caught:
            client.call(UNKNOWN_METHOD)
    assert caught.value.code == -32601
    assert isinstance(caught.value.data, dict) and caught.value.data.get("correlation_id")


def test_library_batch(live_server):
    with JulesRPCClient(str(live_server.socket_path), timeout=10) as client:
        health, unknown = client.batch([("health.live", None), (UNKNOWN_METHOD, None)])
    check_health(health)
    assert isinstance(unknown, JulesRPCError) and unknown.code == -32601


# --------------------------------------------------------------------------
# CLIs
# --------------------------------------------------------------------------


def test_python_cli(live_server, python_cli):
    sock = str(live_server.socket_path)
    proc = python_cli("--socket", sock, "health.live")
    assert proc.returncode == 0, proc.stderr
    check_health(json.loads(proc.stdout))

    proc = python_cli("--socket", sock, "rpc.discover")
    assert proc.returncode == 0, proc.stderr
    check_discover(json.loads(proc.stdout))

    proc = python_cli("--socket", sock, UNKNOWN_METHOD)
    assert proc.returncode == 1
    assert proc.stderr.startswith("error -32601:") and "correlation_id=" in proc.stderr


def test_shell_cli(live_server, shell_cli):
    sock = str(live_server.socket_path)
    proc = shell_cli("--socket", sock, "health.live")
    assert proc.returncode == 0, proc.stderr
    check_health(json.loads(proc.stdout))

    proc = shell_cli("--socket", sock, "rpc.discover")
    assert proc.returncode == 0, proc.stderr
    check_discover(json.loads(proc.stdout))

    proc = shell_cli("--socket", sock, UNKNOWN_METHOD)
    assert proc.returncode == 1
    assert proc.stderr.startswith("error -32601:") and "correlation_id=" in proc.stderr


# --------------------------------------------------------------------------
# Shutdown
# --------------------------------------------------------------------------


def test_sigterm_exits_cleanly_and_removes_socket(short_tmp):
    server = LiveServer(short_tmp)
    try:
        with JulesRPCClient(str(server.socket_path), timeout=10) as client:
            check_health(client.call("health.live"))
        assert server.terminate() == 0, server.stderr_text()
        assert not server.socket_path.exists(), "the socket file is removed on shutdown"
    finally:
        server.stop()
