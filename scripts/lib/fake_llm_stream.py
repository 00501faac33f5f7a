#!/usr/bin/env python3
"""A fake OpenAI-compatible provider on 127.0.0.1 for real `openclaw agent --local` turns.

    fake_llm_stream.py PORT REQUEST_LOG

OpenClaw's embedded runner streams (`stream: true`), so a success is a server-sent-event
stream; failures are the providers' documented error answers. The answer depends only on
the key sent (Authorization: Bearer …), so the order of keys in REQUEST_LOG (one JSON line
per POST: path, key, model) is the order OpenClaw tried its credentials in:

    key contains   answer
    "broke"        402 OpenRouter-style "Insufficient credits" (billing)
    "revoked"      401 OpenAI invalid_api_key (auth)
    "busy"         429 OpenAI rate_limit_exceeded, retry-after: 1 (rate limit)
    "overloaded"   503 "The engine is currently overloaded" (overloaded)
    "slow"         200 headers, then silence (timeout)
    anything else  200 a short streamed answer naming the key's last characters

Fake keys only: never point it at, or give it, a real key. Loopback only.
"""
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ERRORS = [
    ("broke", 402, {"error": {"message": "Insufficient credits. Add more using https://openrouter.ai/settings/credits", "code": 402}}, []),
    ("revoked", 401, {"error": {"message": "Incorrect API key provided: sk-***. You can find your API key at https://platform.openai.com/account/api-keys.", "type": "invalid_request_error", "code": "invalid_api_key"}}, []),
    ("busy", 429, {"error": {"message": "Rate limit reached for requests per min. Please try again in 1s.", "type": "requests", "code": "rate_limit_exceeded"}}, [("retry-after", "1")]),
    ("overloaded", 503, {"error": {"message": "The engine is currently overloaded, please try again later", "type": "server_error", "code": None}}, []),
]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def json_reply(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.json_reply(200, {"object": "list", "data": [{"id": "m1", "object": "model"}, {"id": "m2", "object": "model"}]})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        auth = self.headers.get("Authorization", "") or self.headers.get("x-api-key", "")
        key = auth.split()[-1] if auth else ""
        try:
            model = json.loads(body).get("model")
        except ValueError:
            model = None
        with open(sys.argv[2], "a") as log:
            log.write(json.dumps({"path": self.path, "key": key, "model": model}) + "\n")
        for word, status, err, headers in ERRORS:
            if word in key:
                return self.json_reply(status, err, headers)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        self.wfile.flush()
        if "slow" in key:
            time.sleep(900)
            return
        base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": int(time.time()), "model": model}
        for chunk in (
            {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "OK from " + key[-8:]}, "finish_reason": None}]},
            {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}},
        ):
            self.wfile.write(b"data: " + json.dumps({**base, **chunk}).encode() + b"\n\n")
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        self.close_connection = True


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
