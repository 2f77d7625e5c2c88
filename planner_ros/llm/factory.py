"""Build a chat model from a configuration mapping (a node's parameters, a YAML block, a CLI's options).

`backend` picks the class; every other key is a constructor argument of that class. A key the chosen backend
does not take is an error rather than ignored, so `device: cuda` under an HTTP backend is noticed; only
backend "none" (no model) ignores the other backends' keys, so switching a model off is a one-line change.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from planner_ros.llm.base import ChatModel

__all__ = ["BACKENDS", "make_chat_model"]

# backend -> (required keys, optional keys)
_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "openai": (("base_url", "model"),
               ("api_key_env", "api_key_required", "timeout_s", "max_retries", "backoff_s", "extra_headers")),
    "transformers": (("model",), ("device", "local_files_only", "seed")),
}
BACKENDS = ("none", *_KEYS)


def make_chat_model(config: Mapping[str, Any]) -> ChatModel | None:
    """The chat model `config` describes, or None for backend "none". ValueError names an unknown backend or
    key (with the allowed ones) and missing required keys (an empty string counts as missing)."""
    backend = config.get("backend")
    if backend not in BACKENDS:
        raise ValueError(f"chat model backend {backend!r} is not one of {', '.join(map(repr, BACKENDS))}")
    keys = {k for k in config if k != "backend"}
    every_key = {k for required, optional in _KEYS.values() for k in (*required, *optional)}
    if backend == "none":
        unknown = keys - every_key
        if unknown:
            raise ValueError(f"unknown chat model key(s) {', '.join(sorted(unknown))}; allowed: backend, "
                             f"{', '.join(sorted(every_key))}")
        return None
    required, optional = _KEYS[backend]
    unknown = keys - set(required) - set(optional)
    if unknown:
        raise ValueError(f"key(s) {', '.join(sorted(unknown))} are not used by chat model backend {backend!r}; "
                         f"it takes: backend, {', '.join((*required, *optional))}")
    missing = [k for k in required if config.get(k) in (None, "")]
    if missing:
        raise ValueError(f"chat model backend {backend!r} needs {', '.join(missing)} (missing or empty)")
    kwargs = {k: config[k] for k in keys}
    if backend == "openai":
        from planner_ros.llm.openai_http import OpenAIChatModel
        return OpenAIChatModel(**kwargs)
    from planner_ros.llm.transformers_local import TransformersChatModel
    return TransformersChatModel(**kwargs)
