#!/usr/bin/env python3
"""Client for the Jules core JSON-RPC 2.0 service over its Unix socket.

Wire format: newline-delimited JSON, one compact UTF-8 JSON message per line.
Standard library only, so it can be copied next to any script that needs it.

Library use::

    from jules_rpc import JulesRPCClient, JulesRPCError

    with JulesRPCClient("/run/jules.sock") as client:
        print(client.call("health.live"))

Command line (see ``--help``)::

    python3 jules_rpc.py [--socket PATH] METHOD [PARAMS_JSON]

CLI exit codes: 0 success, 1 JSON-RPC error response, 2 usage error,
3 no usable reply (cannot connect, timeout, connection lost, protocol error).
"""

from __future__ import annotations

import argparse
import contextlib
import decimal
import itertools
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = [
    "JulesError",
    "JulesRPCError",
    "JulesProtocolError",
    "JulesConnectionError",
    "JulesTimeoutError",
    "JulesRPCClient",
    "main",
]

DEFAULT_TIMEOUT = 30.0
MAX_TIMEOUT = 86400.0  # a day: far beyond any call, and within what socket timeouts take
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
_RECV_CHUNK = 64 * 1024

EXIT_OK = 0
EXIT_RPC_ERROR = 1
EXIT_USAGE = 2
EXIT_NO_REPLY = 3


# --------------------------------------------------------------------------
# Exceptions
# --------------------------------------------------------------------------


class JulesError(Exception):
    """Base class of everything this module raises on purpose."""


class JulesRPCError(JulesError):
    """The server answered with a JSON-RPC error object."""

    def __init__(self, code: int, message: str, data: Any = None):
        super().__init__(code, message, data)
        self.code = code
        self.message = message
        self.data = data
        self.correlation_id = data.get("correlation_id") if isinstance(data, dict) else None

    @property
    def type(self) -> str | None:
        """The server's machine-readable error type (``data.type``), if any."""
        return self.data.get("type") if isinstance(self.data, dict) else None

    def __str__(self) -> str:
        return format_error(self.code, self.message, self.data)


class JulesProtocolError(JulesError):
    """The server sent something that is not a valid answer to what we asked."""


class JulesConnectionError(JulesError, ConnectionError):
    """The socket could not be reached, or the connection was lost mid-call."""


class JulesTimeoutError(JulesConnectionError, TimeoutError):
    """No complete reply arrived within the client's timeout."""


class _Retryable(Exception):
    """Internal: the server dropped the connection before reading our request.

    Only raised when it is certain the request was not processed, so sending
    it again on a fresh connection cannot run it twice.
    """


def format_error(code: Any, message: Any, data: Any) -> str:
    """Render an error as ``error CODE: MESSAGE (type=..., correlation_id=...)``."""
    text = f"error {code}: {message}"
    if isinstance(data, dict):
        extras = [f"{key}={data[key]}" for key in ("type", "correlation_id") if key in data]
        if extras:
            text += f" ({', '.join(extras)})"
    return text


# --------------------------------------------------------------------------
# Client
# --------------------------------------------------------------------------


class JulesRPCClient:
    """A JSON-RPC 2.0 client holding one persistent Unix socket connection.

    The connection is opened lazily on the first request. If the server closed
    it while the client was idle, the client reconnects once and resends; it
    never resends a request the server may already have read (an idempotency
    key is the tool for making such retries safe at a higher level).

    Calls are serialized by a lock, so one instance may be shared by threads;
    they simply take turns.
    """

    def __init__(
        self,
        socket_path: str | os.PathLike[str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        exact_numbers: bool = False,
    ):
        if socket_path is None or socket_path == "":
            socket_path = os.environ.get("JULES_SOCKET") or None
        if socket_path is None:
            raise ValueError("no Jules socket path: pass socket_path or set JULES_SOCKET")
        if timeout is not None and not 0 < timeout <= MAX_TIMEOUT:
            raise ValueError(f"timeout must be a positive number of seconds, at most {MAX_TIMEOUT:.0f}")
        self.socket_path = os.fspath(socket_path)
        self.timeout = timeout
        self.max_response_bytes = max_response_bytes
        # Jules keeps numbers exactly (up to 1,000 digits); with exact_numbers, non-integers in answers are
        # decimal.Decimal instead of float, which would round them.
        self._parse_float = decimal.Decimal if exact_numbers else float
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._buffer = bytearray()
        # Where to resume the newline search in _buffer, so that a long line
        # arriving in many chunks is scanned once rather than once per chunk.
        self._scanned = 0

    # -- lifecycle ---------------------------------------------------------

    def __enter__(self) -> JulesRPCClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:  # best effort; close() is the real API
        with contextlib.suppress(Exception):
            self._disconnect()

    def close(self) -> None:
        """Close the connection. The client reconnects if used again."""
        with self._lock:
            self._disconnect()

    # -- public API --------------------------------------------------------

    def call(
        self,
        method: str,
        params: dict | list | None = None,
        *,
        correlation_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        """Call ``method`` and return its ``result``; raise JulesRPCError on error."""
        response = self.call_raw(
            method, params, correlation_id=correlation_id, idempotency_key=idempotency_key
        )
        return _result_or_raise(response)

    def call_raw(
        self,
        method: str,
        params: dict | list | None = None,
        *,
        correlation_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict:
        """Like call(), but return the whole (validated) response object.

        An error response is returned, not raised; transport and protocol
        failures still raise.
        """
        params = _with_meta(params, correlation_id, idempotency_key)
        with self._lock:
            request_id = next(self._ids)
            request = _request(method, params, request_id)
            response = self._exchange(_encode(request), expect_reply=True)
            with self._drop_connection_on_protocol_error():
                if isinstance(response, list):
                    raise JulesProtocolError(f"expected one response to request {request_id}, got a batch")
                _check_response(response, {request_id}, allow_null_id=True)
            return response

    def notify(self, method: str, params: dict | list | None = None) -> None:
        """Send a notification: the server runs it but sends no reply."""
        request = _request(method, params, None)
        with self._lock:
            self._exchange(_encode(request), expect_reply=False)

    def batch(self, calls: Iterable[tuple[str, dict | list | None]]) -> list[Any]:
        """Send several calls as one JSON-RPC batch.

        Returns one entry per call, in the order given: the call's result, or
        a JulesRPCError instance (returned, not raised) if that call failed.
        Responses are matched by id, since the server may answer in any order.
        """
        calls = list(calls)
        if not calls:
            raise ValueError("a batch needs at least one call")
        with self._lock:
            requests = []
            for entry in calls:
                method, params = entry
                requests.append(_request(method, params, next(self._ids)))
            ids = [request["id"] for request in requests]
            reply = self._exchange(_encode(requests), expect_reply=True)

            with self._drop_connection_on_protocol_error():
                if isinstance(reply, dict):
                    # A lone object answering a batch is the server rejecting
                    # the whole batch (e.g. Invalid Request), with id null:
                    # _check_response only lets such an error through.
                    _check_response(reply, set(), allow_null_id=True)
                    _result_or_raise(reply)
                if not isinstance(reply, list):
                    raise JulesProtocolError(f"expected a batch response, got {_json_type(reply)}")
                by_id: dict[int, dict] = {}
                for response in reply:
                    _check_response(response, set(ids), allow_null_id=False)
                    if response["id"] in by_id:
                        raise JulesProtocolError(f"duplicate response for id {response['id']}")
                    by_id[response["id"]] = response
                missing = [request_id for request_id in ids if request_id not in by_id]
                if missing:
                    raise JulesProtocolError(f"batch response lacks ids {missing}")

            results: list[Any] = []
            for request_id in ids:
                try:
                    results.append(_result_or_raise(by_id[request_id]))
                except JulesRPCError as error:
                    results.append(error)
            return results

    # -- transport -----------------------------------------------------------

    @contextlib.contextmanager
    def _drop_connection_on_protocol_error(self) -> Iterator[None]:
        # After a reply we cannot make sense of, we no longer know where the
        # stream stands (a late or stray reply may follow), so start afresh.
        try:
            yield
        except JulesProtocolError:
            self._disconnect()
            raise

    def _connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except TimeoutError as exc:
            sock.close()
            raise JulesTimeoutError(f"timed out connecting to Jules socket {self.socket_path}") from exc
        except OSError as exc:
            sock.close()
            reason = exc.strerror or str(exc)
            raise JulesConnectionError(f"cannot connect to Jules socket {self.socket_path}: {reason}") from exc
        self._sock = sock
        self._buffer.clear()
        self._scanned = 0

    def _disconnect(self) -> None:
        sock, self._sock = self._sock, None
        self._buffer.clear()
        self._scanned = 0
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()

    def _peer_closed(self) -> bool:
        """True if the idle connection was closed by the server.

        Peeks without blocking: nothing to read means the peer is still there;
        a zero-byte read means it sent EOF.
        """
        assert self._sock is not None
        # Non-blocking mode for the peek: with a timeout set, Python would
        # first wait for readability, i.e. stall for the whole timeout.
        self._sock.setblocking(False)
        try:
            data = self._sock.recv(1, socket.MSG_PEEK)
        except BlockingIOError:
            return False
        except OSError:
            return True
        finally:
            self._sock.settimeout(self.timeout)
        return data == b""

    def _exchange(self, payload: bytes, *, expect_reply: bool) -> Any:
        """Send one encoded message and, if asked, read back one message."""
        for attempt in (1, 2):
            fresh = False
            if self._sock is not None and self._peer_closed():
                self._disconnect()
            if self._sock is None:
                self._connect()
                fresh = True
            deadline = None if self.timeout is None else time.monotonic() + self.timeout
            try:
                self._send(payload)
                return self._receive(deadline) if expect_reply else None
            except _Retryable as exc:
                self._disconnect()
                # A brand-new connection dropping us will not get better by
                # retrying; an old one may simply have been closed while idle.
                if fresh or attempt == 2:
                    raise JulesConnectionError(
                        f"Jules server at {self.socket_path} closed the connection: {exc}"
                    ) from None
        raise AssertionError("unreachable")

    def _send(self, payload: bytes) -> None:
        assert self._sock is not None
        try:
            self._sock.settimeout(self.timeout)
            self._sock.sendall(payload)
        except (BrokenPipeError, ConnectionResetError) as exc:
            # The server had already closed: it cannot have read a full line.
            raise _Retryable(exc.strerror or str(exc)) from exc
        except TimeoutError as exc:
            self._disconnect()
            raise JulesTimeoutError(f"timed out sending to Jules socket {self.socket_path}") from exc
        except OSError as exc:
            self._disconnect()
            raise JulesConnectionError(f"error sending to Jules socket {self.socket_path}: {exc}") from exc

    def _receive(self, deadline: float | None) -> Any:
        """Read the next message that is a response, skipping server notifications."""
        while True:
            line = self._read_line(deadline)
            if not line.strip():
                continue  # tolerate blank keep-alive lines
            try:
                message = json.loads(line.decode("utf-8"), parse_float=self._parse_float)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                self._disconnect()
                raise JulesProtocolError(f"server sent invalid JSON: {exc}") from exc
            if isinstance(message, dict) and "method" in message and "id" not in message:
                continue  # a server-initiated notification is not an answer to us
            return message

    def _read_line(self, deadline: float | None) -> bytes:
        assert self._sock is not None
        received_any = bool(self._buffer)
        while True:
            newline = self._buffer.find(b"\n", self._scanned)
            if newline >= 0:
                if newline > self.max_response_bytes:
                    self._disconnect()
                    raise JulesProtocolError(f"response exceeds {self.max_response_bytes} bytes")
                line = bytes(self._buffer[:newline])
                del self._buffer[: newline + 1]
                self._scanned = 0
                return line
            self._scanned = len(self._buffer)
            if len(self._buffer) > self.max_response_bytes:
                self._disconnect()
                raise JulesProtocolError(f"response exceeds {self.max_response_bytes} bytes")

            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._timed_out()
                self._sock.settimeout(remaining)
            try:
                chunk = self._sock.recv(_RECV_CHUNK)
            except TimeoutError:
                self._timed_out()
            except ConnectionResetError as exc:
                # On Linux a Unix socket reports a reset (rather than EOF) when
                # the peer closed with our request still unread in its queue.
                if not received_any:
                    raise _Retryable("connection reset before the request was read") from exc
                self._disconnect()
                raise JulesConnectionError(f"connection to {self.socket_path} reset mid-response") from exc
            except OSError as exc:
                self._disconnect()
                raise JulesConnectionError(f"error reading from Jules socket {self.socket_path}: {exc}") from exc
            if not chunk:
                self._disconnect()
                if received_any:
                    raise JulesConnectionError("Jules server closed the connection in the middle of a response")
                raise JulesConnectionError("Jules server closed the connection without replying")
            received_any = True
            self._buffer += chunk

    def _timed_out(self) -> None:
        # A late reply would otherwise be read as the answer to the next call.
        self._disconnect()
        raise JulesTimeoutError(f"no reply from {self.socket_path} within {self.timeout} s")


# --------------------------------------------------------------------------
# Message helpers
# --------------------------------------------------------------------------


def _request(method: str, params: dict | list | None, request_id: int | None) -> dict:
    if not isinstance(method, str) or not method:
        raise ValueError("method must be a non-empty string")
    if params is not None and not isinstance(params, (dict, list)):
        raise ValueError(f"params must be an object (dict) or array (list), not {type(params).__name__}")
    request: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        request["params"] = params
    if request_id is not None:
        request["id"] = request_id
    return request


def _with_meta(params: dict | list | None, correlation_id: str | None, idempotency_key: str | None) -> dict | list | None:
    """Return params with ``_meta`` merged in, without mutating the caller's dict."""
    meta = {}
    if correlation_id is not None:
        meta["correlation_id"] = correlation_id
    if idempotency_key is not None:
        meta["idempotency_key"] = idempotency_key
    if not meta:
        return params
    if params is None:
        return {"_meta": meta}
    if not isinstance(params, dict):
        raise ValueError("correlation_id/idempotency_key need params to be an object, not positional params")
    existing = params.get("_meta")
    if existing is not None and not isinstance(existing, dict):
        raise ValueError("params['_meta'] must be an object")
    return {**params, "_meta": {**(existing or {}), **meta}}


def _encode(message: Any) -> bytes:
    # Compact and escaped as json.dumps does, so the message is a single line of strict JSON.
    return _dumps(message).encode("utf-8") + b"\n"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _dumps(value: Any, indent: int | None = None, level: int = 0) -> str:
    """JSON text for `value`, like json.dumps(ensure_ascii=False, allow_nan=False), but writing a
    decimal.Decimal exactly as it is (json.dumps cannot write one), so numbers read with
    parse_float=Decimal go back out unchanged."""
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a JSON number")
        # str() writes JSON's forms: "1E+400", "-0.10", never a leading "+" or a bare ".".
        return str(value)
    if isinstance(value, (str, bool, int, float)) or value is None:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    newline = "" if indent is None else "\n" + " " * (indent * (level + 1))
    closing = "" if indent is None else "\n" + " " * (indent * level)
    colon = ":" if indent is None else ": "
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = []
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"object keys must be strings, not {type(key).__name__}")
            items.append(newline + json.dumps(key, ensure_ascii=False) + colon + _dumps(item, indent, level + 1))
        return "{" + ",".join(items) + closing + "}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        return "[" + ",".join(newline + _dumps(item, indent, level + 1) for item in value) + closing + "]"
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _json_type(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return "null"


def _check_response(response: Any, expected_ids: set[int], *, allow_null_id: bool) -> None:
    """Raise JulesProtocolError unless ``response`` is a well-formed reply to one of ``expected_ids``."""
    if not isinstance(response, dict):
        raise JulesProtocolError(f"expected a response object, got {_json_type(response)}")
    if response.get("jsonrpc") != "2.0":
        raise JulesProtocolError('response lacks "jsonrpc": "2.0"')
    has_result, has_error = "result" in response, "error" in response
    if has_result == has_error:
        raise JulesProtocolError('response must have exactly one of "result" and "error"')
    if has_error:
        error = response["error"]
        if not (
            isinstance(error, dict)
            and type(error.get("code")) is int
            and isinstance(error.get("message"), str)
        ):
            raise JulesProtocolError(f"malformed error object: {error!r}")
    response_id = response.get("id")
    if response_id is None and has_error and allow_null_id:
        return  # the server could not tell which request failed (e.g. parse error)
    # type() rather than isinstance(): JSON true must not pass for id 1.
    if type(response_id) is not int or response_id not in expected_ids:
        expected = sorted(expected_ids)
        raise JulesProtocolError(f"response id {response_id!r} does not match pending request(s) {expected}")


def _result_or_raise(response: dict) -> Any:
    if "error" in response:
        error = response["error"]
        raise JulesRPCError(error["code"], error["message"], error.get("data"))
    return response["result"]


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value <= MAX_TIMEOUT:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, at most {MAX_TIMEOUT:.0f}: {text!r}")
    return value


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jules_rpc.py",
        description="Call a Jules core JSON-RPC method over its Unix socket.",
        epilog="Exit codes: 0 ok, 1 JSON-RPC error, 2 usage error, 3 no usable reply "
        "(cannot connect, timeout, connection lost, protocol error).",
    )
    parser.add_argument("--socket", metavar="PATH", help="Unix socket path (default: $JULES_SOCKET)")
    parser.add_argument(
        "--timeout", metavar="S", type=_positive_float, default=DEFAULT_TIMEOUT,
        help=f"seconds to wait for the reply (default: {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument("--correlation-id", metavar="ID", help="sent as params._meta.correlation_id")
    parser.add_argument("--idempotency-key", metavar="K", help="sent as params._meta.idempotency_key")
    parser.add_argument("--raw", action="store_true", help="print the whole response object, not just the result")
    parser.add_argument("method", metavar="METHOD", help="method name, e.g. health.live")
    parser.add_argument("params", metavar="PARAMS_JSON", nargs="?", help="params as a JSON object or array")
    return parser


def _print_json(value: Any) -> None:
    print(_dumps(value, indent=2))


def main(argv: list[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)

    params = None
    if args.params is not None:
        try:
            # Exactly as given: Decimal keeps every digit; NaN and Infinity are not JSON.
            params = json.loads(args.params, parse_float=decimal.Decimal, parse_constant=_reject_constant)
        except (json.JSONDecodeError, ValueError) as exc:
            parser.error(f"PARAMS_JSON is not valid JSON: {exc}")
        if not isinstance(params, (dict, list)):
            parser.error(f"PARAMS_JSON must be a JSON object or array, got {_json_type(params)}")
    if not args.method.strip() or any(ch.isspace() for ch in args.method):
        parser.error(f"METHOD must be a non-empty name without whitespace: {args.method!r}")

    try:
        client = JulesRPCClient(args.socket, timeout=args.timeout, exact_numbers=True)
        with client:
            response = client.call_raw(
                args.method, params,
                correlation_id=args.correlation_id, idempotency_key=args.idempotency_key,
            )
    except ValueError as exc:  # bad argument combination or no socket configured
        parser.error(str(exc))
    except JulesError as exc:
        print(f"jules_rpc: {exc}", file=sys.stderr)
        return EXIT_NO_REPLY

    error = response.get("error")
    try:
        if args.raw:
            _print_json(response)
        elif error is None:
            _print_json(response["result"])
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly, like a shell
        # tool killed by SIGPIPE, instead of dumping a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13
    if error is not None:
        print(format_error(error["code"], error["message"], error.get("data")), file=sys.stderr)
        return EXIT_RPC_ERROR
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
