"""Shared fixtures for the tests that run the built `jules` binary."""
import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest

from service_support import wait_for_socket


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
