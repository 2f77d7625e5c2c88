"""What every language-model backend shares: messages in, completions out, and one error type.

A backend is anything with a `name` and a `complete` method (ChatModel); the planner and the verifier only
see these types, so an HTTP endpoint, a local transformers model and a test double are interchangeable.
Messages are plain text or a tuple of text and image parts; images travel as base64 data URLs, the form
the OpenAI chat-completions protocol takes and the easiest to log or replay.
"""
from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, Union

import numpy as np

__all__ = [
    "ChatMessage", "ChatModel", "Completion", "ContentPart", "ImagePart", "LLMError", "LLM_ERROR_KINDS",
    "TextPart", "image_part", "message_text",
]

LLM_ERROR_KINDS = ("unreachable", "timeout", "http", "malformed", "config", "weights")

# Pillow's format name for each image_part format, and the MIME type the data URL announces.
_IMAGE_FORMATS = {"png": ("PNG", "image/png"), "jpeg": ("JPEG", "image/jpeg"), "jpg": ("JPEG", "image/jpeg")}


class LLMError(RuntimeError):
    """A model could not answer; the message says what was wrong and what to do.

    `kind` is one of LLM_ERROR_KINDS, so callers branch on it rather than on the message text:
    unreachable (no connection to the endpoint), timeout (no answer in time, retries included), http (the
    server answered with an error status), malformed (the answer is not a chat completion), config (the
    request cannot be made as configured: API key unset, images for a text-only model), weights (model
    weights not found or not loadable).
    """

    def __init__(self, message: str, *, kind: str) -> None:
        if kind not in LLM_ERROR_KINDS:
            raise ValueError(f"LLMError kind {kind!r} is not one of {', '.join(LLM_ERROR_KINDS)}")
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class TextPart:
    text: str


@dataclass(frozen=True)
class ImagePart:
    data_url: str  # "data:image/png;base64,..."


ContentPart = Union[TextPart, ImagePart]


@dataclass(frozen=True)
class ChatMessage:
    """One turn: `role` is "system", "user" or "assistant" (passed through as given); `content` is text or a
    tuple of parts (a list is accepted and stored as a tuple, so messages stay hashable and immutable)."""
    role: str
    content: str | tuple[ContentPart, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.role, str) or not self.role:
            raise ValueError(f"ChatMessage role must be a non-empty string, got {self.role!r}")
        if isinstance(self.content, str):
            return
        if isinstance(self.content, list):
            object.__setattr__(self, "content", tuple(self.content))
        if not isinstance(self.content, tuple):
            raise TypeError(f"ChatMessage content must be a string or a tuple of TextPart/ImagePart, "
                            f"got {type(self.content).__name__}")
        for part in self.content:
            if not isinstance(part, (TextPart, ImagePart)):
                raise TypeError(f"ChatMessage content part must be a TextPart or ImagePart, got {part!r:.80}")

    @property
    def has_images(self) -> bool:
        return not isinstance(self.content, str) and any(isinstance(p, ImagePart) for p in self.content)


def message_text(message: ChatMessage) -> str:
    """The text of a message, its text parts joined by newlines; image parts are left out."""
    if isinstance(message.content, str):
        return message.content
    return "\n".join(p.text for p in message.content if isinstance(p, TextPart))


def image_part(rgb: np.ndarray, format: str = "png") -> ImagePart:
    """Encode an (H, W, 3) uint8 RGB image as a base64 data URL; `format` is "png" (lossless) or "jpeg"."""
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        shape = getattr(rgb, "shape", None)
        raise ValueError(f"image_part expects an (H, W, 3) uint8 RGB array, got {shape} "
                         f"{getattr(rgb, 'dtype', type(rgb).__name__)}")
    try:
        pil_format, mime = _IMAGE_FORMATS[format.lower()]
    except KeyError:
        raise ValueError(f"image_part format {format!r} is not one of {', '.join(_IMAGE_FORMATS)}") from None
    from PIL import Image  # only image users pay for Pillow's import
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb), mode="RGB").save(buffer, format=pil_format)
    return ImagePart(f"data:{mime};base64,{base64.b64encode(buffer.getvalue()).decode('ascii')}")


@dataclass(frozen=True)
class Completion:
    texts: tuple[str, ...]      # n answers, in the order the backend returned them
    prompt_tokens: int          # summed over every request or generate call (0 where a server reports none)
    completion_tokens: int      # summed over all returned texts
    model: str                  # the backend's name, e.g. "openai:gpt-4o-mini"
    calls: int                  # HTTP requests sent (retries included) or generate calls made
    latency_s: float            # wall time of the whole complete() call, retries and waits included


class ChatModel(Protocol):
    """A chat model: `name` says backend and model ("openai:gpt-4o-mini", "transformers:/models/qwen")."""
    name: str

    def complete(self, messages: Sequence[ChatMessage], *, n: int = 1, temperature: float = 0.0,
                 top_p: float = 1.0, max_tokens: int = 512, stop: Sequence[str] = ()) -> Completion:
        """n answers to the conversation. temperature 0 asks for greedy decoding; `stop` strings end an
        answer and are not part of it. Raises LLMError when no answer can be had, ValueError for bad
        arguments."""
        ...


def check_sampling_args(messages: Sequence[ChatMessage], n: int, temperature: float, top_p: float,
                        max_tokens: int, stop: Sequence[str]) -> None:
    """The argument checks every backend's complete() starts with; ValueError names the offending value."""
    if not messages:
        raise ValueError("complete() needs at least one message")
    for message in messages:
        if not isinstance(message, ChatMessage):
            raise TypeError(f"complete() takes ChatMessage objects, got {type(message).__name__}")
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if not temperature >= 0.0:
        raise ValueError(f"temperature must be >= 0, got {temperature!r}")
    if not 0.0 < top_p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1], got {top_p!r}")
    if not isinstance(max_tokens, int) or max_tokens < 1:
        raise ValueError(f"max_tokens must be a positive integer, got {max_tokens!r}")
    if isinstance(stop, str) or any(not isinstance(s, str) or not s for s in stop):
        raise ValueError(f"stop must be a sequence of non-empty strings, got {stop!r}")
