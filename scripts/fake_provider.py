#!/usr/bin/env python3
"""A fake model provider on 127.0.0.1 for end-to-end tests of clawprobe with Prometheus.

    fake_provider.py --port-file FILE [--port 0]

Speaks enough of the OpenAI-compatible API (GET /v1/models, /v1/models/{id}, POST
/v1/chat/completions, /v1/responses; OpenRouter's /key and /credits), of Anthropic's
Messages API (GET /v1/models, POST /v1/messages, /v1/messages/count_tokens), of Google's
(v1beta models, :generateContent) and of Ollama's (/api/tags, /api/chat) for clawprobe's
metadata and generation probes. The answer depends only on the key sent (Authorization: Bearer or x-api-key), so one
server can stand in for a broken chain:

    key contains   status  body
    "revoked"      401     invalid API key (class auth)
    "broke"        402     insufficient credits (class billing)
    "busy"         429     rate limited, Retry-After: 1 (class rate_limit)
    "overloaded"   529     Anthropic overloaded_error (class overloaded)
    anything else  200     a normal answer with usage and rate-limit headers

Only a revoked (or missing) key fails the zero-token metadata reads (GET): as the real
providers do (shared/providers/ERRORS.md), a key with no credits, a rate-limited key and an
overloaded model still list and show models; only generation requests (POST) fail. So the
end-to-end scenario shows what clawprobe's verdict does with that split.

Every answer carries OpenAI-style (x-ratelimit-*) and Anthropic-style
(anthropic-ratelimit-*) rate-limit headers. A model id containing "missing" gets 404.
Logs one line per request (method, path, status) to stderr, never the key. Listens on
loopback only; stops on SIGTERM/SIGINT.
"""
import argparse
import json
import os
import signal
import sys
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

MODELS = ["gpt-5-mini", "gpt-5-nano", "moonshotai/kimi-k2", "claude-sonnet-4-5", "claude-haiku-4-5"]


def behaviour(key):
    for word, status in (("revoked", 401), ("broke", 402), ("busy", 429), ("overloaded", 529)):
        if word in key:
            return status
    return 200 if key else 401


class Handler(BaseHTTPRequestHandler):
    server_version = "fake-provider/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("fake_provider: " + (fmt % args) + "\n")

    # --- helpers -------------------------------------------------------------------------
    def _key(self):
        auth = self.headers.get("Authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        key = self.headers.get("x-api-key") or self.headers.get("x-goog-api-key")
        if not key and "?" in self.path:
            key = (parse_qs(self.path.split("?", 1)[1]).get("key") or [""])[0]
        return (key or "").strip()

    def _anthropic(self):
        return "x-api-key" in self.headers or "anthropic-version" in self.headers

    def _path(self):
        p = self.path.split("?", 1)[0]
        for prefix in ("/api/v1/", "/v1beta/", "/v1/"):
            if p.startswith(prefix):
                return p[len(prefix) - 1:]
        return p

    def _send(self, status, body, exhausted=False):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        remaining_req = 0 if exhausted else 4990
        remaining_tok = 0 if exhausted else 1_960_000
        reset = (datetime.now(timezone.utc) + timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
        headers = {
            "x-ratelimit-limit-requests": "5000",
            "x-ratelimit-remaining-requests": str(remaining_req),
            "x-ratelimit-reset-requests": "12ms" if not exhausted else "30s",
            "x-ratelimit-limit-tokens": "2000000",
            "x-ratelimit-remaining-tokens": str(remaining_tok),
            "x-ratelimit-reset-tokens": "1s",
            "anthropic-ratelimit-requests-limit": "50",
            "anthropic-ratelimit-requests-remaining": "0" if exhausted else "49",
            "anthropic-ratelimit-requests-reset": reset,
            "anthropic-ratelimit-input-tokens-limit": "40000",
            "anthropic-ratelimit-input-tokens-remaining": "0" if exhausted else "39000",
            "anthropic-ratelimit-input-tokens-reset": reset,
            "anthropic-ratelimit-output-tokens-limit": "8000",
            "anthropic-ratelimit-output-tokens-remaining": "0" if exhausted else "7990",
            "anthropic-ratelimit-output-tokens-reset": reset,
            "request-id": f"req_{int(time.time() * 1000)}",
        }
        if status == 429:
            headers["retry-after"] = "1"
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _error(self, status):
        if self._anthropic():
            kind, msg = {
                401: ("authentication_error", "invalid x-api-key"),
                402: ("billing_error", "Your credit balance is too low to access the Anthropic API."),
                404: ("not_found_error", "model: not found"),
                429: ("rate_limit_error", "Number of requests has exceeded your rate limit."),
                529: ("overloaded_error", "Overloaded"),
            }[status]
            return self._send(status, {"type": "error", "error": {"type": kind, "message": msg}},
                              exhausted=status == 429)
        code, kind, msg = {
            401: ("invalid_api_key", "invalid_request_error", "Incorrect API key provided."),
            402: ("insufficient_quota", "insufficient_quota",
                  "You exceeded your current quota, please check your plan and billing details."),
            404: ("model_not_found", "invalid_request_error", "The model does not exist."),
            429: ("rate_limit_exceeded", "requests", "Rate limit reached for requests."),
            529: ("overloaded", "server_error", "The server is overloaded."),
        }[status]
        return self._send(status, {"error": {"message": msg, "type": kind, "param": None, "code": code}},
                          exhausted=status == 429)

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            return json.loads(raw or b"{}")
        except ValueError:
            return {}

    # --- routes --------------------------------------------------------------------------
    def do_GET(self):
        status = behaviour(self._key())
        if status == 401:
            return self._error(status)
        path = self._path()
        if path.rstrip("/") in ("/models", "/api/tags"):
            if path.startswith("/api/"):
                return self._send(200, {"models": [{"name": m, "model": m} for m in MODELS]})
            data = [{"id": m, "object": "model", "type": "model", "display_name": m,
                     "created": 1700000000, "created_at": "2025-01-01T00:00:00Z",
                     "owned_by": "fake"} for m in MODELS]
            return self._send(200, {"object": "list", "data": data, "has_more": False,
                                    "first_id": MODELS[0], "last_id": MODELS[-1]})
        if path in ("/key", "/auth/key"):
            return self._send(200, {"data": {"label": "fake", "limit": None, "limit_remaining": None,
                                             "usage": 0.5, "is_free_tier": False,
                                             "rate_limit": {"requests": 100, "interval": "10s"}}})
        if path == "/credits":
            return self._send(200, {"data": {"total_credits": 10.0, "total_usage": 0.5}})
        if path.startswith("/models/") and path.endswith("/endpoints"):
            # OpenRouter: GET /models/{author}/{slug}/endpoints lists the providers serving it.
            model = path[len("/models/"):-len("/endpoints")]
            if "missing" in model:
                return self._error(404)
            return self._send(200, {"data": {"id": model, "name": model, "created": 1700000000,
                                             "endpoints": [{"name": f"Fake | {model}",
                                                            "provider_name": "Fake",
                                                            "context_length": 131072,
                                                            "status": 0}]}})
        if path.startswith("/models/"):
            model = path[len("/models/"):]
            if "missing" in model:
                return self._error(404)
            return self._send(200, {"id": model, "object": "model", "type": "model",
                                    "display_name": model, "created": 1700000000,
                                    "created_at": "2025-01-01T00:00:00Z", "owned_by": "fake"})
        self._send(404, {"error": {"message": f"unknown path {path}", "type": "not_found"}})

    def do_HEAD(self):
        self.do_GET()

    def do_POST(self):
        body = self._body()
        status = behaviour(self._key())
        if status != 200:
            return self._error(status)
        model = str(body.get("model", ""))
        if "missing" in model:
            return self._error(404)
        path = self._path()
        if path.startswith("/models/") and ":" in path:  # Google generateContent
            return self._send(200, {
                "candidates": [{"content": {"role": "model", "parts": [{"text": "OK"}]},
                                "finishReason": "STOP"}],
                "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 1,
                                  "totalTokenCount": 10},
            })
        if path == "/chat/completions":
            return self._send(200, {
                "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "OK"},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10},
            })
        if path == "/responses":
            return self._send(200, {
                "id": "resp_fake", "object": "response", "created_at": int(time.time()),
                "status": "completed", "model": model,
                "output": [{"type": "message", "id": "msg_fake", "status": "completed",
                            "role": "assistant",
                            "content": [{"type": "output_text", "text": "OK", "annotations": []}]}],
                "usage": {"input_tokens": 9, "output_tokens": 1, "total_tokens": 10},
            })
        if path == "/messages/count_tokens":
            return self._send(200, {"input_tokens": 9})
        if path == "/messages":
            return self._send(200, {
                "id": "msg_fake", "type": "message", "role": "assistant", "model": model,
                "content": [{"type": "text", "text": "OK"}], "stop_reason": "end_turn",
                "stop_sequence": None, "usage": {"input_tokens": 9, "output_tokens": 1},
            })
        if path in ("/api/chat", "/api/generate"):
            return self._send(200, {"model": model, "done": True,
                                    "message": {"role": "assistant", "content": "OK"},
                                    "prompt_eval_count": 9, "eval_count": 1})
        self._send(404, {"error": {"message": f"unknown path {path}", "type": "not_found"}})


def serve(handler, port, port_file):
    """Serves `handler` on 127.0.0.1:`port` (0: any free port), writes the port chosen to
    `port_file` atomically, and runs until SIGTERM/SIGINT. Shared with the other fake
    providers under scripts/."""
    srv = ThreadingHTTPServer(("127.0.0.1", port), handler)
    srv.daemon_threads = True
    with open(port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.replace(port_file + ".tmp", port_file)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        srv.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        srv.server_close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True, help="file to write the chosen port to")
    args = ap.parse_args()
    serve(Handler, args.port, args.port_file)


if __name__ == "__main__":
    main()
