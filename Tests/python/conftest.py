"""Shared fixtures for the tests that run the built `jules` binary."""
import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest

from service_support import Service, wait_for_socket


@pytest.fixture(scope="session")
def jules_bin():
    path = os.environ.get("JULES_BIN")
    if not path or not os.access(path, os.X_OK):
        pytest.skip("JULES_BIN is not set to the built jules executable (scripts/test sets it)")
    return path


@pytest.fixture
def short_tmp():
    # Socket paths must stay under 108 bytes; pytest's tmp_path can be longer.
    folder = tempfile.mkdtemp(prefix="jules-py-", dir="/tmp")
    yield pathlib.Path(folder)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def socket_server(jules_bin, short_tmp):
    """Starts `jules serve --socket` and yields (socket path, process, stderr path)."""
    path = short_tmp / "run" / "jules.sock"
    stderr_path = short_tmp / "stderr.log"
    with open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(
            [jules_bin, "serve", "--socket", str(path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        wait_for_socket(path, process)
        yield path, process, stderr_path
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.fixture
def services(jules_bin, short_tmp, request):
    """Starts `Service`s on demand, services(env, name=..., **options); whatever is still running at the end is
    killed. Set JULES_TEST_LOG_DIR to keep their logs (a folder per test)."""
    started = []

    def start(env, name="jules", **options):
        service = Service(jules_bin, short_tmp, env, name=name, **options)
        started.append(service)
        return service

    yield start
    for service in started:
        service.ensure_stopped()
    keep = os.environ.get("JULES_TEST_LOG_DIR")
    if keep:
        folder = os.path.join(keep, request.node.name)
        os.makedirs(folder, exist_ok=True)
        for service in started:
            shutil.copy(service.stderr_path, os.path.join(folder, f"{service.name}.stderr"))
