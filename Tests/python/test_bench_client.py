"""`jules-bench socket`: both of its clients measure JSON-RPC and RESP servers, and count error answers."""
import json
import os
import pathlib
import socket
import subprocess
import threading
import time

import pytest


@pytest.fixture(scope="session")
def bench_bin(jules_bin):
    path = pathlib.Path(jules_bin).parent / "jules-bench"
    assert os.access(path, os.X_OK), f"{path} is not built (swift build --build-tests builds it)"
    return str(path)


def run_bench(bench_bin, *arguments, expect_success=True):
    finished = subprocess.run(
        [bench_bin, "socket", "--connections", "4", "--duration", "0.5", "--warmup", "0.2", *arguments],
        capture_output=True,
        timeout=60,
    )
    if expect_success:
        assert finished.returncode == 0, finished.stderr.decode()
        return json.loads(finished.stdout.decode().strip().splitlines()[-1])
    return finished


@pytest.mark.parametrize("client", ["epoll", "nio"])
def test_measures_a_jsonrpc_method(bench_bin, socket_server, client):
    path, _, _ = socket_server
    report = run_bench(bench_bin, "--client", client, "--socket", str(path), "--method", "health.live")
    assert report["requests"] > 0
    assert report["errors"] == 0
    assert 0 < report["p50_us"] <= report["p99_us"] <= report["p999_us"]
    assert report["rps"] > 0


@pytest.mark.parametrize("client", ["epoll", "nio"])
def test_counts_error_answers(bench_bin, socket_server, client):
    path, _, _ = socket_server
    report = run_bench(bench_bin, "--client", client, "--socket", str(path), "--method", "no.such.method")
    # Errors are counted over the whole run (warm-up included), requests over the measured window.
    assert report["requests"] > 0
    assert report["errors"] >= report["requests"]


class SplitReplyServer:
    """Answers each RESP PING with a bulk string, its header and body in two writes: a reply that arrives in
    pieces must still count as one."""

    def __init__(self, path, hang_up_after=None):
        self.hang_up_after = hang_up_after
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(path))
        self.listener.listen(16)
        self.answered = 0
        self.lock = threading.Lock()
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(connection,), daemon=True).start()

    def serve(self, connection):
        pending = b""
        with connection:
            while True:
                try:
                    data = connection.recv(4096)
                except OSError:
                    return
                if not data:
                    return
                pending += data
                while b"\r\n" in pending:
                    _, pending = pending.split(b"\r\n", 1)
                    try:
                        connection.sendall(b"$5\r\n")
                        time.sleep(0.0005)
                        connection.sendall(b"hello\r\n")
                    except OSError:
                        return
                    with self.lock:
                        self.answered += 1
                        if self.hang_up_after is not None and self.answered >= self.hang_up_after:
                            return

    def close(self):
        self.listener.close()


@pytest.mark.parametrize("client", ["epoll", "nio"])
def test_measures_a_resp_server_whose_replies_arrive_in_pieces(bench_bin, short_tmp, client):
    path = short_tmp / "resp.sock"
    server = SplitReplyServer(path)
    try:
        report = run_bench(bench_bin, "--client", client, "--socket", str(path), "--raw", "PING")
    finally:
        server.close()
    assert report["requests"] > 0
    assert report["requests"] <= server.answered
    assert report["errors"] == 0


@pytest.mark.parametrize("client", ["epoll", "nio"])
def test_connections_the_server_closes_are_reported_and_fail_the_run(bench_bin, short_tmp, client):
    path = short_tmp / "resp.sock"
    # Each connection is closed after an answer, once 20 have been given in all; the client's next request then
    # goes to a closed socket (which must not end it with SIGPIPE).
    server = SplitReplyServer(path, hang_up_after=20)
    try:
        finished = run_bench(bench_bin, "--client", client, "--socket", str(path), "--raw", "PING",
                             expect_success=False)
    finally:
        server.close()
    assert finished.returncode == 1, (finished.returncode, finished.stderr.decode())
    report = json.loads(finished.stdout.decode().strip().splitlines()[-1])
    assert report["lost_connections"] == 4
    assert "4 of 4 connections ended before the run did" in finished.stderr.decode()


def test_an_unreachable_socket_is_a_clear_error(bench_bin, short_tmp):
    finished = subprocess.run(
        [bench_bin, "socket", "--socket", str(short_tmp / "nobody.sock"), "--duration", "0.2"],
        capture_output=True,
        timeout=60,
    )
    assert finished.returncode != 0
    assert "nobody.sock" in finished.stderr.decode()
