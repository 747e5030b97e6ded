"""Shared fixtures: a fake Jules JSON-RPC server and helpers to run the CLIs.

The fake speaks the same wire format as the real service (NDJSON over a Unix
socket) so the clients can be tested without building the Swift server.
"""

from __future__ import annotations

import decimal
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

CLIENTS_DIR = Path(__file__).resolve().parent.parent
PY_CLIENT = CLIENTS_DIR / "jules_rpc.py"
SHELL_CLIENT = CLIENTS_DIR / "jules-rpc"

# Let the tests `import jules_rpc` from the clients directory.
if str(CLIENTS_DIR) not in sys.path:
    sys.path.insert(0, str(CLIENTS_DIR))


def short_tempdir() -> str:
    # AF_UNIX paths are limited to ~107 bytes; pytest's tmp_path can be longer.
    return tempfile.mkdtemp(prefix="jrpc-")


class FakeJulesServer:
    """A small threaded JSON-RPC 2.0 server on a Unix socket.

    Methods: ``echo`` returns its params; ``fail`` returns a -32001 error whose
    data carries the request's correlation id; ``slow`` sleeps
    ``params.seconds`` (default 5) then returns "done"; ``drop`` closes the
    connection without replying. Anything else is -32601.

    Knobs for tests:
      * ``close_after_reply``: close each connection after one reply.
      * ``tamper``: a function applied to each outgoing reply (object or batch
        list); it may return a new object, or bytes to send verbatim.
    Batches are answered in reverse order, so clients must match by id.
    """

    def __init__(self, path: str):
        self.path = path
        self.requests: list[Any] = []
        self.connections = 0
        self.close_after_reply = False
        self.tamper: Callable[[Any], Any] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> FakeJulesServer:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(self.path)
        listener.listen(16)
        # A short accept timeout lets the loop notice stop() promptly.
        listener.settimeout(0.1)
        self._listener = listener
        self._thread = threading.Thread(target=self._accept_loop, name="fake-jules", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._listener is not None:
            self._listener.close()

    @property
    def last_request(self) -> Any:
        with self._lock:
            return self.requests[-1]

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[Any]:
        """Wait until at least ``count`` messages arrived (notifications race the test)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.01)
        raise AssertionError(f"fake server got {len(self.requests)} requests, expected {count}")

    # -- serving -----------------------------------------------------------

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(None)
        with conn, conn.makefile("rb") as reader:
            for line in reader:
                if self._stop.is_set():
                    return
                reply = self._handle_line(line)
                if reply is _DROP:
                    return
                if reply is not None:
                    if self.tamper is not None:
                        reply = self.tamper(reply)
                    data = reply if isinstance(reply, bytes) else _encode(reply)
                    try:
                        conn.sendall(data)
                    except OSError:
                        return
                if self.close_after_reply:
                    return

    def _handle_line(self, line: bytes) -> Any:
        try:
            # Numbers are kept exactly, as Jules keeps them, so a client that rounds them shows.
            message = json.loads(line.decode("utf-8"), parse_float=decimal.Decimal)
        except ValueError:
            return _error(None, -32700, "Parse error")
        with self._lock:
            self.requests.append(message)
        if isinstance(message, list):
            if not message:
                return _error(None, -32600, "Invalid Request")
            replies = [self._handle_request(item) for item in message]
            if any(reply is _DROP for reply in replies):
                return _DROP
            replies = [reply for reply in replies if reply is not None]
            # Reversed on purpose: JSON-RPC lets a server answer in any order.
            return list(reversed(replies)) or None
        return self._handle_request(message)

    def _handle_request(self, request: Any) -> Any:
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            return _error(None, -32600, "Invalid Request")
        is_notification = "id" not in request
        request_id = request.get("id")
        method = request["method"]
        params = request.get("params")
        meta = params.get("_meta", {}) if isinstance(params, dict) else {}

        if method == "echo":
            reply = _result(request_id, params)
        elif method == "fail":
            data = {"type": "not_found", "correlation_id": meta.get("correlation_id", "gen-1")}
            reply = _error(request_id, -32001, "Not found", data)
        elif method == "slow":
            seconds = params.get("seconds", 5) if isinstance(params, dict) else 5
            self._stop.wait(seconds)
            reply = _result(request_id, "done")
        elif method == "drop":
            return _DROP
        else:
            reply = _error(request_id, -32601, "Method not found", {"type": "method_not_found"})
        return None if is_notification else reply


_DROP = object()  # sentinel: close the connection without replying


def _encode(message: Any) -> bytes:
    # Each Decimal goes through json.dumps as a marked string, then the marks are replaced by its digits.
    def mark(value: Any) -> Any:
        if isinstance(value, decimal.Decimal):
            return f"\u0000decimal:{value}\u0000"
        raise TypeError(type(value).__name__)

    text = json.dumps(message, separators=(",", ":"), ensure_ascii=False, default=mark)
    text = re.sub(r'"\\u0000decimal:([^"\\]*)\\u0000"', r"\1", text)
    return text.encode("utf-8") + b"\n"


def _result(request_id: Any, result: Any) -> dict:
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def _error(request_id: Any, code: int, message: str, data: Any = None) -> dict:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": request_id, "error": error}


# --------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------


@pytest.fixture
def short_tmp():
    path = short_tempdir()
    yield Path(path)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def fake_server(short_tmp):
    server = FakeJulesServer(str(short_tmp / "jules.sock")).start()
    yield server
    server.stop()


def client_env(**overrides: str | None) -> dict[str, str]:
    """The test process environment without JULES_* leaking in, plus overrides."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("JULES_")}
    env.update({key: value for key, value in overrides.items() if value is not None})
    return env


@pytest.fixture
def make_env():
    """``make_env(JULES_SOCKET=...)``: a clean environment for a CLI subprocess."""
    return client_env


@pytest.fixture
def python_cli():
    """Run ``jules_rpc.py ARGS...``; returns the CompletedProcess (text mode)."""

    def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            module: bool = False, timeout: float = 30) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "jules_rpc"] if module else [sys.executable, str(PY_CLIENT)]
        return subprocess.run(
            [*command, *args], env=env if env is not None else client_env(), cwd=cwd,
            capture_output=True, text=True, encoding="utf-8", timeout=timeout,
        )

    return run


@pytest.fixture(params=[
    pytest.param("python", id="python"),
    pytest.param("socat", id="socat", marks=pytest.mark.skipif(
        shutil.which("socat") is None, reason="socat is not installed")),
])
def shell_transport(request) -> str:
    """Each way the shell client can reach the socket (JULES_RPC_TRANSPORT)."""
    return request.param


@pytest.fixture
def shell_cli(shell_transport):
    """Run ``jules-rpc ARGS...`` over the current ``shell_transport``."""

    def run(*args: str, env: dict[str, str] | None = None, executable: Path = SHELL_CLIENT,
            timeout: float = 30) -> subprocess.CompletedProcess:
        env = dict(env if env is not None else client_env())
        env.setdefault("JULES_RPC_TRANSPORT", shell_transport)
        return subprocess.run(
            [str(executable), *args], env=env,
            capture_output=True, text=True, encoding="utf-8", timeout=timeout,
        )

    return run
