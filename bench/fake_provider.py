#!/usr/bin/env python3
"""A counting fake OpenAI-compatible provider on 127.0.0.1 for the load harness.

    fake_provider.py --port-file FILE [--port 0]

Answers any key and any model id:
    GET  /v1/models/{id}        200 model object (clawprobe's metadata tier, blackbox's target)
    GET  /v1/models             200 list
    POST /v1/chat/completions   200 completion with usage (clawprobe's generation tier)
    POST /v1/responses          200 response with usage
    GET  /_stats                counters as JSON (not counted itself)
    POST /_reset                zero the counters

Usage is reported the way OpenAI counts a one-message chat: 7 framing tokens plus about one
token per 4 characters of the message, and min(max_tokens, 1) output tokens (responses:
min(max_output_tokens, 16), as reasoning models can spend all of it). Logs nothing per
request (the harness sends hundreds per second). Loopback only; stops on SIGTERM.
"""
import argparse
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
STATS = {}


def reset():
    with LOCK:
        STATS.clear()
        STATS.update({
            "since": time.time(),
            "requests": {},          # kind -> count
            "tokens_in": 0,
            "tokens_out": 0,
            "generation_by_model": {},   # model -> [requests, tokens]
            "generation_by_key": {},     # key suffix -> [requests, tokens]
        })


def count(kind, model=None, key=None, tin=0, tout=0):
    with LOCK:
        STATS["requests"][kind] = STATS["requests"].get(kind, 0) + 1
        if tin or tout:
            STATS["tokens_in"] += tin
            STATS["tokens_out"] += tout
            for table, k in (("generation_by_model", model), ("generation_by_key", key)):
                row = STATS[table].setdefault(k or "?", [0, 0])
                row[0] += 1
                row[1] += tin + tout


def prompt_tokens(messages):
    if isinstance(messages, str):
        return 7 + max(1, (len(messages) + 3) // 4)
    chars = 0
    for m in messages or []:
        c = m.get("content", "") if isinstance(m, dict) else ""
        chars += len(c) if isinstance(c, str) else len(json.dumps(c))
    return 7 + max(1, (chars + 3) // 4)


class Handler(BaseHTTPRequestHandler):
    server_version = "bench-fake-provider/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def _key(self):
        auth = self.headers.get("Authorization", "")
        key = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        # Only a short suffix is kept, to tell credentials apart; never logged.
        return key[-8:] if key else "none"

    def _send(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-ratelimit-limit-requests", "5000")
        self.send_header("x-ratelimit-remaining-requests", "4999")
        self.send_header("x-ratelimit-reset-requests", "12ms")
        self.send_header("x-ratelimit-limit-tokens", "2000000")
        self.send_header("x-ratelimit-remaining-tokens", "1999990")
        self.send_header("x-ratelimit-reset-tokens", "1s")
        self.end_headers()
        self.wfile.write(data)

    def _path(self):
        p = self.path.split("?", 1)[0]
        return p[3:] if p.startswith("/v1/") else p

    def do_GET(self):
        path = self._path()
        if path == "/_stats":
            with LOCK:
                snap = json.loads(json.dumps(STATS))
            snap["now"] = time.time()
            return self._send(200, snap)
        if path.startswith("/models/"):
            model = path[len("/models/"):]
            count("model")
            return self._send(200, {"id": model, "object": "model", "created": 1700000000,
                                    "owned_by": "bench"})
        if path.rstrip("/") == "/models":
            count("model_list")
            return self._send(200, {"object": "list", "data": []})
        count("other")
        self._send(404, {"error": {"message": "unknown path", "type": "not_found"}})

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        path = self._path()
        if path == "/_reset":
            reset()
            return self._send(200, {})
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        model = str(body.get("model", ""))
        if path == "/chat/completions":
            tin = prompt_tokens(body.get("messages"))
            tout = min(int(body.get("max_tokens") or body.get("max_completion_tokens") or 1), 1)
            count("chat", model, self._key(), tin, tout)
            return self._send(200, {
                "id": "chatcmpl-bench", "object": "chat.completion", "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "H"},
                             "finish_reason": "length"}],
                "usage": {"prompt_tokens": tin, "completion_tokens": tout,
                          "total_tokens": tin + tout},
            })
        if path == "/responses":
            tin = prompt_tokens(body.get("input"))
            tout = min(int(body.get("max_output_tokens") or 16), 16)
            count("responses", model, self._key(), tin, tout)
            return self._send(200, {
                "id": "resp_bench", "object": "response", "status": "incomplete",
                "incomplete_details": {"reason": "max_output_tokens"}, "model": model,
                "output": [], "usage": {"input_tokens": tin, "output_tokens": tout,
                                        "total_tokens": tin + tout},
            })
        count("other")
        self._send(404, {"error": {"message": "unknown path", "type": "not_found"}})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    args = ap.parse_args()
    reset()
    ThreadingHTTPServer.request_queue_size = 256
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.replace(args.port_file + ".tmp", args.port_file)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        srv.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        srv.server_close()


if __name__ == "__main__":
    main()
