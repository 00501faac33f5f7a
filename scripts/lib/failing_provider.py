#!/usr/bin/env python3
"""A fake OpenAI-compatible provider on 127.0.0.1 that fails on purpose, for
scripts/gen-traffic-fixtures.sh (real OpenClaw agent turns whose fallbacks engage).

    failing_provider.py --port-file FILE --request-log FILE

The first path segment picks the behaviour, so one server stands in for several
providers (each OpenClaw provider gets its own baseUrl, http://127.0.0.1:PORT/<mode>/v1):

    mode          status  body (the providers' documented shapes, shared/providers/ERRORS.md)
    ratelimited   429     OpenAI rate_limit_exceeded, retry-after: 1
    broke         402     insufficient credits (OpenRouter/DeepSeek-style 402)
    flaky         500     OpenAI server_error
    revoked       401     OpenAI invalid_api_key
    healthy       200     a streamed (SSE) or plain chat completion answering "OK"

Every request is appended to --request-log as one JSON line (method, mode, path, model),
never the key. Listens on loopback only; stops on SIGTERM/SIGINT.
"""
import argparse
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from fake_provider import serve  # noqa: E402  (scripts/fake_provider.py: the serve loop)

ERRORS = {
    "ratelimited": (429, {"error": {"message": "Rate limit reached for requests. Please try again in 1s.",
                                    "type": "requests", "param": None, "code": "rate_limit_exceeded"}}),
    "broke": (402, {"error": {"message": "Insufficient credits. Add more using https://example.invalid/credits",
                              "type": "insufficient_quota", "param": None, "code": 402}}),
    "flaky": (500, {"error": {"message": "The server had an error while processing your request. Sorry about that!",
                              "type": "server_error", "param": None, "code": None}}),
    "revoked": (401, {"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error",
                                "param": None, "code": "invalid_api_key"}}),
}

REQUEST_LOG = None


class Handler(BaseHTTPRequestHandler):
    server_version = "failing-provider/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("failing_provider: " + (fmt % args) + "\n")

    def _mode_and_path(self):
        parts = self.path.split("?", 1)[0].lstrip("/").split("/", 1)
        return parts[0], "/" + (parts[1] if len(parts) > 1 else "")

    def _record(self, mode, path, model):
        if REQUEST_LOG:
            with open(REQUEST_LOG, "a") as f:
                f.write(json.dumps({"method": self.command, "mode": mode, "path": path,
                                    "model": model, "at": time.time()}) + "\n")

    def _json(self, status, body, extra=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        mode, path = self._mode_and_path()
        self._record(mode, path, None)
        if mode in ERRORS:
            status, body = ERRORS[mode]
            return self._json(status, body)
        if path.rstrip("/").endswith("/models"):
            return self._json(200, {"object": "list", "data": [{"id": "gpt-ok", "object": "model"}]})
        return self._json(404, {"error": {"message": f"unknown path {path}", "type": "not_found"}})

    def do_POST(self):
        mode, path = self._mode_and_path()
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        model = str(body.get("model", ""))
        self._record(mode, path, model)
        if mode in ERRORS:
            status, err = ERRORS[mode]
            extra = [("retry-after", "1")] if status == 429 else []
            return self._json(status, err, extra)
        if mode != "healthy" or not path.endswith("/chat/completions"):
            return self._json(404, {"error": {"message": f"unknown path {path}", "type": "not_found"}})
        created = int(time.time())
        if not body.get("stream"):
            return self._json(200, {
                "id": "chatcmpl-fake", "object": "chat.completion", "created": created, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "OK"},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10},
            })
        chunks = [
            {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": created, "model": model,
             "choices": [{"index": 0, "delta": {"role": "assistant", "content": "OK"}, "finish_reason": None}]},
            {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": created, "model": model,
             "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
             "usage": {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10}},
        ]
        data = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
        data = data.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main():
    global REQUEST_LOG
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--request-log")
    args = ap.parse_args()
    REQUEST_LOG = args.request_log
    serve(Handler, args.port, args.port_file)


if __name__ == "__main__":
    main()
