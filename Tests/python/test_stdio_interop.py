"""`jules serve --stdio` with clients no one here wrote, and with plain newline-delimited JSON."""
import json
import subprocess
import threading

import pytest
from pylsp_jsonrpc.endpoint import Endpoint
from pylsp_jsonrpc.exceptions import JsonRpcException
from pylsp_jsonrpc.streams import JsonRpcStreamReader, JsonRpcStreamWriter


def spawn(jules_bin):
    return subprocess.Popen(
        [jules_bin, "serve", "--stdio"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_python_lsp_jsonrpc_endpoint_talks_to_jules(jules_bin):
    """python-lsp-jsonrpc frames with Content-Length; jules must detect it and answer in kind."""
    process = spawn(jules_bin)
    writer = JsonRpcStreamWriter(process.stdin)
    reader = JsonRpcStreamReader(process.stdout)
    endpoint = Endpoint({}, writer.write)
    listener = threading.Thread(target=reader.listen, args=(endpoint.consume,), daemon=True)
    listener.start()
    try:
        live = endpoint.request("health.live", {"_meta": {"correlation_id": "lsp-1"}}).result(timeout=20)
        assert live["status"] == "ok"
        document = endpoint.request("rpc.discover").result(timeout=20)
        assert {m["name"] for m in document["methods"]} >= {"health.live", "rpc.discover", "metrics.prometheus"}
        with pytest.raises(JsonRpcException) as missing:
            endpoint.request("nope.nothing", {}).result(timeout=20)
        assert missing.value.code == -32601
        with pytest.raises(JsonRpcException) as invalid:
            endpoint.request("health.live", {"_meta": {"deadline_ms": -1}}).result(timeout=20)
        assert invalid.value.code == -32602
        assert invalid.value.data["field"] == "params._meta.deadline_ms"
        # A notification is never answered: the next request's answer is the next message.
        endpoint.notify("health.live", {})
        assert endpoint.request("health.live").result(timeout=20)["status"] == "ok"
    finally:
        process.stdin.close()
        code = process.wait(timeout=20)
        listener.join(timeout=5)
        stderr = process.stderr.read().decode()
        process.stdout.close()
        process.stderr.close()
    assert code == 0, stderr
    lines = [json.loads(line) for line in stderr.splitlines()]
    requests = [line for line in lines if line["message"] == "request"]
    assert any(line.get("correlation_id") == "lsp-1" and line["method"] == "health.live" for line in requests)
    assert all("duration_ms" in line and "correlation_id" in line for line in requests)


def test_newline_delimited_stdio_and_exit_on_end_of_input(jules_bin):
    process = spawn(jules_bin)
    requests = [
        {"jsonrpc": "2.0", "method": "health.live", "id": 1},
        {"jsonrpc": "2.0", "method": "health.live"},
        [{"jsonrpc": "2.0", "method": "health.live", "id": "b1"}, {"jsonrpc": "2.0", "method": "x.y", "id": "b2"}],
    ]
    payload = "".join(json.dumps(r) + "\n" for r in requests).encode() + b"not json\n"
    stdout, stderr = process.communicate(payload, timeout=30)
    assert process.returncode == 0, stderr.decode()
    lines = stdout.decode().splitlines()
    messages = [json.loads(line) for line in lines]  # stdout holds protocol messages only
    assert len(messages) == 3
    by_kind = {json.dumps(m)[:1]: m for m in messages}
    assert len(by_kind["["]) == 2
    assert any(m.get("id") == 1 and m["result"]["status"] == "ok" for m in messages if isinstance(m, dict))
    assert any(isinstance(m, dict) and m.get("error", {}).get("code") == -32700 for m in messages)
    for line in stderr.decode().splitlines():
        entry = json.loads(line)
        assert {"time", "level", "message"} <= entry.keys()
