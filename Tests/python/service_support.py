"""Paths and helpers shared by the tests that run the built `jules` binary: throw-away PostgreSQL databases, Redis
logical databases, and `jules serve --socket` as a process."""
import contextlib
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import uuid

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "Tests" / "Fixtures"

sys.path.insert(0, str(ROOT / "clients"))
from jules_rpc import JulesRPCClient  # noqa: E402

KEY_VARIABLES = ("JULES_ENCRYPTION_KEYS", "JULES_ENCRYPTION_KEYS_FILE", "JULES_BLIND_INDEX_KEY",
                 "JULES_BLIND_INDEX_KEY_FILE")


def needs_services(*variables):
    """Skip marks for tests of a service with PostgreSQL and Redis: they need `variables`, the encryption keys (all
    set by scripts/test), psql and redis-cli."""
    keys_set = bool(os.environ.get("JULES_ENCRYPTION_KEYS") or os.environ.get("JULES_ENCRYPTION_KEYS_FILE")) and bool(
        os.environ.get("JULES_BLIND_INDEX_KEY") or os.environ.get("JULES_BLIND_INDEX_KEY_FILE"))
    marks = [pytest.mark.skipif(not os.environ.get(name), reason=f"needs {name} (scripts/test sets it)")
             for name in variables]
    return marks + [
        pytest.mark.skipif(not keys_set,
                           reason="needs JULES_ENCRYPTION_KEYS and JULES_BLIND_INDEX_KEY (scripts/test sets them)"),
        pytest.mark.skipif(shutil.which("psql") is None or shutil.which("redis-cli") is None,
                           reason="needs psql and redis-cli"),
    ]


def wait_for_socket(path, process, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"jules exited early with {process.returncode}")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                probe.connect(str(path))
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"{path} never accepted a connection")


def wait_until(description, condition, timeout, interval=0.1):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {description} (last: {last!r})")


def isolated_env(*prefixes):
    """This process's environment without its JULES_ variables (nor those starting with one of `prefixes`), but
    with the encryption keys: a service started with it sees only what its test sets."""
    drop = ("JULES_",) + prefixes
    env = {name: value for name, value in os.environ.items() if not name.startswith(drop)}
    for name in KEY_VARIABLES:
        if name in os.environ:
            env[name] = os.environ[name]
    return env


# MARK: - PostgreSQL


def database_url(server_url, name):
    """`server_url` with its database replaced by `name`."""
    url = re.sub(r"@/[^?]*", f"@/{name}", server_url)  # a unix socket URL: postgresql://user@/db?host=/dir
    if url == server_url:  # a TCP URL: postgresql://user@host:port/db
        parts = urllib.parse.urlsplit(server_url)
        url = urllib.parse.urlunsplit(parts._replace(path="/" + name))
    return url


@contextlib.contextmanager
def temporary_database(server_url, prefix="jules_py_"):
    """A new, empty database on the server of `server_url` (its URL), dropped at the end even if still in use."""
    name = prefix + uuid.uuid4().hex[:8]
    subprocess.run(["psql", server_url, "-qc", f"CREATE DATABASE {name}"], check=True, capture_output=True)
    try:
        yield database_url(server_url, name)
    finally:
        subprocess.run(["psql", server_url, "-qc", f"DROP DATABASE {name} WITH (FORCE)"], capture_output=True)


# MARK: - Redis


class RedisDatabase:
    """One logical Redis database: its URL for the service, and redis-cli on it."""

    def __init__(self, server_url, number):
        self.number = number
        parts = urllib.parse.urlsplit(server_url)
        if parts.scheme == "unix":
            # The service accepts unix://[credentials@]/path[?db=N]; urlunsplit would drop the "//".
            self.url = server_url.split("?", 1)[0] + f"?db={number}"
            self.cli = ["redis-cli", "-s", parts.path]
        else:
            self.url = urllib.parse.urlunsplit(parts._replace(path=f"/{number}"))
            self.cli = ["redis-cli", "-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 6379)]
            if parts.password:
                self.cli += ["--no-auth-warning", "-a", urllib.parse.unquote(parts.password)]
                if parts.username:
                    self.cli += ["--user", urllib.parse.unquote(parts.username)]
        self.cli += ["-n", str(number)]

    @classmethod
    def for_test(cls, server_url, test_name):
        """The database of one test: the same on every run, and away from database 0 that the other tests use."""
        return cls(server_url, 1 + sum(test_name.encode()) % 15)

    def run(self, *args):
        # -e: a command Redis refuses makes redis-cli exit non-zero.
        out = subprocess.run(self.cli + ["-e"] + list(args), capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise AssertionError(f"redis-cli {' '.join(args[:3])}: {out.stdout.strip()} {out.stderr.strip()}")
        return out.stdout.strip()


# MARK: - The service


class Service:
    """`jules serve --socket` with its own environment; stderr (the log) is kept in a file.

    The log level is `log_level`, else JULES_TEST_LOG_LEVEL, else notice: at info a burst of requests would write
    a line each. `timeout` is the client's, for each call."""

    def __init__(self, jules_bin, folder, env, name="jules", log_level=None, timeout=120):
        self.name = name
        self.timeout = timeout
        self.socket = folder / name / "jules.sock"
        self.stderr_path = folder / f"{name}.stderr"
        level = log_level or os.environ.get("JULES_TEST_LOG_LEVEL", "notice")
        with open(self.stderr_path, "ab") as stderr:
            self.process = subprocess.Popen(
                [jules_bin, "serve", "--socket", str(self.socket), "--log-level", level],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr, env=env,
            )
        wait_for_socket(self.socket, self.process, timeout=60)
        self.client = self.connect()

    @property
    def pid(self):
        return self.process.pid

    def connect(self):
        return JulesRPCClient(socket_path=str(self.socket), timeout=self.timeout)

    def call(self, method, params=None):
        return self.client.call(method, params or {})

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self.client.close()

    def stop(self):
        """SIGTERM, and a clean exit expected."""
        self.client.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(timeout=60) == 0, self.log[-3000:]

    def ensure_stopped(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    @property
    def log(self):
        return self.stderr_path.read_text(errors="replace")
