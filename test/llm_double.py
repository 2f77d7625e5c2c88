"""ScriptedOpenAIServer: a TEST DOUBLE of an OpenAI chat-completions server, on loopback, for tests only."""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["ScriptedOpenAIServer"]

_SPECIAL_KEYS = {"status", "body", "headers", "delay_s", "text", "raw", "choices", "no_usage"}


def _words(content: Any) -> int:
    """A rough token count: words of the text, text parts included, images left out."""
    if isinstance(content, str):
        return len(content.split())
    if isinstance(content, list):
        return sum(len(p.get("text", "").split()) for p in content if isinstance(p, dict) and p.get("type") == "text")
    return 0


class ScriptedOpenAIServer:
    """TEST DOUBLE: a real HTTP server on 127.0.0.1 (a free port) speaking the OpenAI chat-completions protocol
    (POST /v1/chat/completions) and replaying a script instead of running a model. Use it as a context manager;
    `.url` is the base_url to give a client ("http://127.0.0.1:<port>/v1").

    The script is a list, replayed in order and from the start again when used up. Each request takes one
    entry for its first choice and, when it asks for n > 1, one more for each further choice. An entry is the
    answer text, or a dict whose special behaviour applies to the request it opens:
      {"status": 500, "body": "...", "headers": {...}}  answer with that HTTP status and body (no choices)
      {"raw": "not json"}                              answer 200 with that body as is
      {"delay_s": 2.0, "text": "..."}                 wait before answering (cut short when the server closes)
      {"choices": k}                                   return at most k choices whatever n asks (k may be 0)
      {"no_usage": True}                               leave "usage" out of the answer
    A dict may combine "text" (its answer text) with delay_s, choices and no_usage; one without "text" takes
    its first answer from the next entry. A dict met as a further choice gives only its "text".

    Every request's JSON body is kept in `.requests` and its headers (names lower-cased) in `.headers`.
    Usage is prompt_tokens = words in the messages' text, completion_tokens = words in the answers.
    """

    def __init__(self, script: Sequence[str | dict[str, Any]]) -> None:
        if not script:
            raise ValueError("the script needs at least one entry")
        for entry in script:
            if isinstance(entry, dict):
                unknown = set(entry) - _SPECIAL_KEYS
                if unknown:
                    raise ValueError(f"unknown script keys {sorted(unknown)}; allowed: {sorted(_SPECIAL_KEYS)}")
            elif not isinstance(entry, str):
                raise TypeError(f"a script entry is a string or a dict, got {entry!r}")
        self.script = list(script)
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._cursor = 0
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the server is not started: use it in a with block")
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> ScriptedOpenAIServer:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        # A short poll interval, because shutdown() waits for the serving loop to look at its flag.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="scripted-openai", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing.set()  # wakes handlers still in a scripted delay
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5.0)

    def _take(self) -> str | dict[str, Any]:
        entry = self.script[self._cursor % len(self.script)]
        self._cursor += 1
        return entry

    def _plan(self, n: int) -> tuple[dict[str, Any], list[str]]:
        """The behaviour and choice texts for one request, taken from the script under the lock."""
        with self._lock:
            entry = self._take()
            behaviour = entry if isinstance(entry, dict) else {}
            if "status" in behaviour or "raw" in behaviour:
                return behaviour, []
            texts = [entry] if isinstance(entry, str) else [entry["text"]] if "text" in entry else []
            count = min(n, behaviour.get("choices", n))
            while len(texts) < count:
                more = self._take()
                texts.append(more if isinstance(more, str) else str(more.get("text", "")))
            return behaviour, texts[:count]

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
                pass

            def _send(self, status: int, body: bytes, content_type: str = "application/json",
                      headers: dict[str, str] | None = None) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(body)))
                    for name, value in (headers or {}).items():
                        self.send_header(name, str(value))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (its timeout); nothing to answer

            def _error(self, status: int, message: str) -> None:
                self._send(status, json.dumps({"error": {"message": message, "type": "invalid_request_error"}})
                           .encode())

            def do_POST(self) -> None:
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._error(404, f"no route {self.path}")
                    return
                length = int(self.headers.get("Content-Length", "0"))
                try:
                    body = json.loads(self.rfile.read(length))
                except ValueError:
                    self._error(400, "request body is not JSON")
                    return
                with double._lock:
                    double.requests.append(body)
                    double.headers.append({k.lower(): v for k, v in self.headers.items()})
                if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
                    self._error(400, "request needs a 'messages' list")
                    return
                n = body.get("n", 1)
                behaviour, texts = double._plan(n if isinstance(n, int) and n > 0 else 1)
                if "status" in behaviour:
                    self._send(behaviour["status"], str(behaviour.get("body", "")).encode(), "text/plain",
                               behaviour.get("headers"))
                    return
                if "raw" in behaviour:
                    self._send(200, str(behaviour["raw"]).encode(), "application/json")
                    return
                if behaviour.get("delay_s"):
                    double._closing.wait(float(behaviour["delay_s"]))
                answer: dict[str, Any] = {
                    "id": f"chatcmpl-double-{len(double.requests)}", "object": "chat.completion",
                    "created": int(time.time()), "model": body.get("model", ""),
                    "choices": [{"index": i, "message": {"role": "assistant", "content": t},
                                 "finish_reason": "stop"} for i, t in enumerate(texts)],
                }
                if not behaviour.get("no_usage"):
                    prompt = sum(_words(m.get("content")) for m in body["messages"] if isinstance(m, dict))
                    completion = sum(len(t.split()) for t in texts)
                    answer["usage"] = {"prompt_tokens": prompt, "completion_tokens": completion,
                                       "total_tokens": prompt + completion}
                self._send(200, json.dumps(answer).encode())

        return Handler
