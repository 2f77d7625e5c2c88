"""A chat model behind an OpenAI-compatible chat-completions endpoint, over the standard library only.

The same protocol is spoken by OpenAI itself, vLLM, llama.cpp's server, Ollama and LM Studio, so one client
covers hosted and local models. Some of these ignore `n` and answer with one choice; the client then asks
again until it has n answers. Transient failures (connection refused, timeouts, HTTP 429 and 5xx) are
retried with exponential backoff; other 4xx answers are final, since asking again cannot fix them.
What the server returns is only ever parsed as JSON and read as strings.
"""
from __future__ import annotations

import http.client
import json
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from planner_ros.llm.base import ChatMessage, Completion, ImagePart, LLMError, TextPart, check_sampling_args

__all__ = ["OpenAIChatModel"]

MAX_RETRY_AFTER_S = 30.0   # a server's Retry-After is honoured up to this; longer waits are cut to it
MAX_BACKOFF_S = 30.0       # the exponential backoff never waits longer than this between attempts
_EXCERPT_CHARS = 300       # how much of a server's error text or malformed body an error message quotes

_sleep = time.sleep  # module-level so tests can record the waits instead of sleeping


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _EXCERPT_CHARS else text[:_EXCERPT_CHARS] + "..."


def _server_error_text(body: bytes) -> str:
    """The error message in an error body: OpenAI's {"error": {"message": ...}} when it is there, else the
    body as text."""
    text = body.decode("utf-8", errors="replace")
    try:
        data = json.loads(text)
    except ValueError:
        return _excerpt(text)
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return _excerpt(error["message"])
        if isinstance(error, str):
            return _excerpt(error)
    return _excerpt(text)


def _retry_after_s(headers: Any) -> float | None:
    """A numeric Retry-After header in seconds, capped; None when absent or an HTTP date."""
    value = headers.get("Retry-After") if headers is not None else None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S) if seconds == seconds else None  # NaN is no wait


def _message_json(message: ChatMessage) -> dict[str, Any]:
    if isinstance(message.content, str):
        return {"role": message.role, "content": message.content}
    parts: list[dict[str, Any]] = []
    for part in message.content:
        if isinstance(part, TextPart):
            parts.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            parts.append({"type": "image_url", "image_url": {"url": part.data_url}})
    return {"role": message.role, "content": parts}


class _Retryable(Exception):
    """One attempt failed in a way another attempt may fix; carries the error to raise if none does."""

    def __init__(self, error: LLMError, wait_s: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.wait_s = wait_s  # the server's Retry-After, if it sent one


class OpenAIChatModel:
    """Chat completions from `base_url` (e.g. "http://127.0.0.1:8000/v1" or "https://api.openai.com/v1").

    The API key is read from the environment variable named by `api_key_env` when the model is built and is
    sent as `Authorization: Bearer`; local servers usually need none, so it is only an error to leave it unset
    when `api_key_required`. `timeout_s` bounds each wait on the socket; `max_retries` is the number of
    attempts after the first, spaced `backoff_s`, 2*`backoff_s`, 4*`backoff_s`, ... apart (or as the server's
    Retry-After says). `extra_headers` go with every request (e.g. an organisation header).
    """

    def __init__(self, base_url: str, model: str, *, api_key_env: str = "OPENAI_API_KEY",
                 api_key_required: bool = False, timeout_s: float = 60.0, max_retries: int = 3,
                 backoff_s: float = 1.0, extra_headers: Mapping[str, str] | None = None) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"base_url {base_url!r} is not an http(s) URL like http://127.0.0.1:8000/v1")
        if not model:
            raise ValueError("model must name the model the server should run, e.g. 'gpt-4o-mini'")
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s!r}")
        if not isinstance(max_retries, int) or max_retries < 0:
            raise ValueError(f"max_retries must be an integer >= 0, got {max_retries!r}")
        if not backoff_s >= 0:
            raise ValueError(f"backoff_s must be >= 0, got {backoff_s!r}")
        self.base_url = base_url.rstrip("/")
        self.url = f"{self.base_url}/chat/completions"
        self.model = model
        self.name = f"openai:{model}"
        self.timeout_s = float(timeout_s)
        self.max_retries = max_retries
        self.backoff_s = float(backoff_s)
        self.api_key_env = api_key_env
        api_key = os.environ.get(api_key_env, "") if api_key_env else ""
        if api_key_required and not api_key:
            raise LLMError(f"the API key for {self.url} is required but the environment variable "
                           f"{api_key_env or '(none named)'} is not set: export {api_key_env or 'OPENAI_API_KEY'}"
                           "=... before starting, or set api_key_required false for a server that needs no key",
                           kind="config")
        self._headers = {"Content-Type": "application/json", "Accept": "application/json",
                         "User-Agent": "planner_ros-llm"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._headers.update(extra_headers or {})
        # An opener of our own, so no other code's global urllib opener (proxies, handlers) changes ours.
        self._opener = urllib.request.build_opener()

    def __repr__(self) -> str:  # never shows the key
        return f"OpenAIChatModel({self.base_url!r}, {self.model!r})"

    def complete(self, messages: Sequence[ChatMessage], *, n: int = 1, temperature: float = 0.0,
                 top_p: float = 1.0, max_tokens: int = 512, stop: Sequence[str] = ()) -> Completion:
        check_sampling_args(messages, n, temperature, top_p, max_tokens, stop)
        start = time.monotonic()
        body: dict[str, Any] = {
            "model": self.model, "messages": [_message_json(m) for m in messages], "temperature": temperature,
            "top_p": top_p, "max_tokens": max_tokens,
        }
        if stop:
            body["stop"] = list(stop)
        texts: list[str] = []
        prompt_tokens = completion_tokens = calls = 0
        # Servers that ignore n (llama.cpp, Ollama) answer one choice a request: ask for the rest.
        while len(texts) < n:
            body["n"] = n - len(texts)
            data, attempts = self._post(body)
            calls += attempts
            choices = self._choice_texts(data)
            if not choices:
                raise LLMError(f"malformed chat-completions response from {self.url}: no choices; body starts: "
                               f"{_excerpt(json.dumps(data))}", kind="malformed")
            texts.extend(choices[:n - len(texts)])
            usage = data.get("usage")
            if isinstance(usage, dict):
                prompt_tokens += _count(usage.get("prompt_tokens"))
                completion_tokens += _count(usage.get("completion_tokens"))
        return Completion(tuple(texts), prompt_tokens, completion_tokens, self.name, calls,
                          time.monotonic() - start)

    def _choice_texts(self, data: Any) -> list[str]:
        def malformed(what: str) -> LLMError:
            return LLMError(f"malformed chat-completions response from {self.url}: {what}; body starts: "
                            f"{_excerpt(json.dumps(data))}", kind="malformed")

        if not isinstance(data, dict):
            raise malformed(f"a JSON {type(data).__name__}, not an object")
        choices = data.get("choices")
        if not isinstance(choices, list):
            raise malformed("no 'choices' list")
        texts = []
        for i, choice in enumerate(choices):
            message = choice.get("message") if isinstance(choice, dict) else None
            content = message.get("content") if isinstance(message, dict) else None
            if not isinstance(content, str):
                raise malformed(f"choice {i} has no string message.content")
            texts.append(content)
        return texts

    def _post(self, body: dict[str, Any]) -> tuple[Any, int]:
        """POST the body, retrying what may be transient; returns the parsed JSON and the attempts made."""
        payload = json.dumps(body).encode("utf-8")
        attempts = 0
        while True:
            attempts += 1
            try:
                return self._attempt(payload), attempts
            except _Retryable as failure:
                if attempts > self.max_retries:
                    raise failure.error from failure.error.__cause__
                wait_s = failure.wait_s
                if wait_s is None:
                    wait_s = min(self.backoff_s * 2 ** (attempts - 1), MAX_BACKOFF_S)
                _sleep(wait_s)

    def _attempt(self, payload: bytes) -> Any:
        request = urllib.request.Request(self.url, data=payload, headers=self._headers, method="POST")
        tries = f"{self.max_retries + 1} attempt(s) (max_retries={self.max_retries})"
        try:
            with self._opener.open(request, timeout=self.timeout_s) as response:
                raw = response.read()
        except urllib.error.HTTPError as err:
            self._http_error(err, tries)
        except (TimeoutError, socket.timeout) as err:
            raise _Retryable(self._timeout_error(tries, err)) from err
        except urllib.error.URLError as err:
            if isinstance(err.reason, (TimeoutError, socket.timeout)):
                raise _Retryable(self._timeout_error(tries, err)) from err
            raise _Retryable(self._unreachable_error(tries, err.reason)) from err
        except (OSError, http.client.HTTPException) as err:  # reset or dropped mid-answer
            raise _Retryable(self._unreachable_error(tries, err)) from err
        try:
            return json.loads(raw.decode("utf-8"))
        except ValueError as err:  # UnicodeDecodeError is a ValueError too
            excerpt = _excerpt(raw.decode("utf-8", errors="replace"))
            raise LLMError(f"malformed chat-completions response from {self.url}: not JSON ({err}); body starts: "
                           f"{excerpt!r}", kind="malformed") from err

    def _timeout_error(self, tries: str, err: BaseException) -> LLMError:
        error = LLMError(f"no answer from {self.url} within timeout_s={self.timeout_s:g} s, {tries}: the server "
                         "is overloaded or the model too slow; raise timeout_s or shorten max_tokens",
                         kind="timeout")
        error.__cause__ = err
        return error

    def _unreachable_error(self, tries: str, reason: Any) -> LLMError:
        error = LLMError(f"cannot reach the chat-completions endpoint {self.url} ({reason}), {tries}: check that "
                         "the server is running and that base_url (host, port and /v1 path) is right",
                         kind="unreachable")
        error.__cause__ = reason if isinstance(reason, BaseException) else None
        return error

    def _http_error(self, err: urllib.error.HTTPError, tries: str) -> NoReturn:
        try:
            server_text = _server_error_text(err.read())
        except (OSError, http.client.HTTPException):
            server_text = "(no body)"
        status = err.code
        hint = ""
        if status in (401, 403):
            hint = f"; check the API key in the environment variable {self.api_key_env}"
        elif status == 404:
            hint = f"; check base_url {self.base_url!r} and the model name {self.model!r}"
        retryable = status == 429 or status >= 500
        after = f" after {tries}" if retryable else ""
        error = LLMError(f"{self.url} answered HTTP {status} {err.reason}{after}: {server_text}{hint}", kind="http")
        error.__cause__ = err
        if retryable:
            raise _Retryable(error, _retry_after_s(err.headers)) from err
        raise error from err


def _count(value: Any) -> int:
    """A usage count as an int; anything else (missing, null, text) counts as 0 rather than failing."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0
