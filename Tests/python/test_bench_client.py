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


class LineServer:
    """Answers each request that ends with `delimiter` through `answer(connection)`, on a thread per connection;
    `answer` returns False to hang up."""

    delimiter = b"\n"

    def __init__(self, path):
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(path))
        self.listener.listen(16)
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
                while self.delimiter in pending:
                    _, pending = pending.split(self.delimiter, 1)
                    try:
                        if not self.answer(connection):
                            return
                    except OSError:
                        return

    def close(self):
        self.listener.close()


class SplitReplyServer(LineServer):
    """Answers each RESP PING with a bulk string, its header and body in two writes: a reply that arrives in
    pieces must still count as one."""

    delimiter = b"\r\n"

    def __init__(self, path, hang_up_after=None):
        self.hang_up_after = hang_up_after
        self.answered = 0
        self.lock = threading.Lock()
        super().__init__(path)

    def answer(self, connection):
        connection.sendall(b"$5\r\n")
        time.sleep(0.0005)
        connection.sendall(b"hello\r\n")
        with self.lock:
            self.answered += 1
            return self.hang_up_after is None or self.answered < self.hang_up_after


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


class SlowLineServer(LineServer):
    """Answers each JSON-RPC line after `delay` seconds, one line at a time per connection."""

    def __init__(self, path, delay):
        self.delay = delay
        super().__init__(path)

    def answer(self, connection):
        time.sleep(self.delay)
        connection.sendall(b'{"jsonrpc":"2.0","id":1,"result":{}}\n')
        return True


def test_an_open_loop_sends_no_faster_than_its_rate(bench_bin, socket_server):
    path, _, _ = socket_server
    report = run_bench(bench_bin, "--socket", str(path), "--method", "health.live", "--rate", "200",
                       "--duration", "1")
    assert report["rate"] == 200
    assert report["errors"] == 0
    # A closed loop would answer thousands in a second here; the open loop sends at most what is due. (A busy
    # machine can only make it send fewer.)
    assert 0 < report["requests"] <= 200 * 1.0 * 1.05 + 4


def test_an_open_loop_counts_latency_from_when_a_request_was_due(bench_bin, short_tmp):
    # One connection, a request due every 5 ms, a server taking 20 ms for each: the requests queue up behind one
    # another, and the n-th waits about 15n ms before it is even sent. Counted from the send (a closed loop's
    # view), each would take about 20 ms; counted from when it was due, the median is hundreds of milliseconds.
    path = short_tmp / "slow.sock"
    server = SlowLineServer(path, delay=0.02)
    try:
        report = run_bench(bench_bin, "--socket", str(path), "--connections", "1", "--rate", "200",
                           "--duration", "1")
    finally:
        server.close()
    assert report["requests"] > 0
    assert report["p50_us"] >= 100_000, report


@pytest.mark.parametrize("arguments, message", [
    (["--rate", "0"], "--rate must be"),
    (["--rate", "nan"], "--rate must be"),
    (["--rate", "100", "--client", "nio"], "--rate needs --client epoll"),
])
def test_a_bad_rate_is_refused(bench_bin, short_tmp, arguments, message):
    finished = run_bench(bench_bin, "--socket", str(short_tmp / "nobody.sock"), *arguments, expect_success=False)
    assert finished.returncode != 0
    assert message in finished.stderr.decode()


def test_the_samples_file_has_a_line_for_each_measured_response(bench_bin, socket_server, short_tmp):
    path, _, _ = socket_server
    samples = short_tmp / "samples.txt"
    report = run_bench(bench_bin, "--socket", str(path), "--method", "health.live", "--rate", "400",
                       "--samples-file", str(samples))
    lines = [tuple(map(int, line.split())) for line in samples.read_text().splitlines()]
    assert len(lines) == report["requests"] > 0
    window_us = report["seconds"] * 1e6
    assert all(0 <= arrived < window_us and latency >= 0 for arrived, latency in lines)
    assert [arrived for arrived, _ in lines] == sorted(arrived for arrived, _ in lines)
    # The same responses as the report's: its median is the file's (written in whole microseconds).
    latencies = sorted(latency for _, latency in lines)
    median = latencies[max(0, -(-len(latencies) // 2) - 1)]
    assert abs(median - report["p50_us"]) < 1


def test_a_samples_file_that_cannot_be_written_is_refused_before_the_run(bench_bin, socket_server, short_tmp):
    path, _, _ = socket_server
    target = short_tmp / "no-such-folder" / "samples.txt"
    finished = subprocess.run(
        [bench_bin, "socket", "--socket", str(path), "--duration", "30", "--samples-file", str(target)],
        capture_output=True,
        timeout=20,
    )
    assert finished.returncode != 0
    assert f"--samples-file {target} cannot be written" in finished.stderr.decode()
