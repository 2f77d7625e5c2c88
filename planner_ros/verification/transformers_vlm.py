"""A vision-language model run in-process with Hugging Face transformers, for the VLM verifier.

Implements the ChatModel protocol for messages of text and images (planner_ros.llm ImagePart data URLs). The
model is a local directory written by save_pretrained (model and processor together) or, only with
local_files_only=False, a hub id; it is loaded with AutoProcessor and AutoModelForImageTextToText (LLaVA,
Idefics3/SmolVLM, Qwen2-VL, PaliGemma, ...). torch and transformers are imported when a model is built.
"""
from __future__ import annotations

import base64
import binascii
import io
import re
from collections.abc import Sequence
from typing import Any

from planner_ros.llm.base import ChatMessage, ImagePart, LLMError, TextPart
from planner_ros.llm.transformers_local import LocalGenerator

__all__ = ["TransformersVLMChatModel", "decode_data_url"]

_DATA_URL = re.compile(r"data:image/[\w.+-]+;base64,(?P<data>[A-Za-z0-9+/=\s]+)")


def decode_data_url(url: str) -> Any:
    """A base64 image data URL as an RGB PIL image; LLMError(kind="config") for anything else (an http URL
    included: a local model never fetches)."""
    match = _DATA_URL.fullmatch(url)
    if match is None:
        raise LLMError(f"a local vision model takes images as base64 data URLs (data:image/png;base64,...), got "
                       f"{url[:60]!r}", kind="config")
    from PIL import Image, UnidentifiedImageError
    try:
        return Image.open(io.BytesIO(base64.b64decode(match.group("data"), validate=False))).convert("RGB")
    except (binascii.Error, UnidentifiedImageError, OSError) as err:
        raise LLMError(f"image data URL {url[:60]!r}... does not hold a readable image: {err}", kind="config") from err


class TransformersVLMChatModel(LocalGenerator):
    """Chat completions with images from a local vision-language model.

    The prompt is the processor's chat template when it has one (each image part becomes an {"type": "image"}
    entry, the template writes the model's image token), else a "role: content" transcript with the
    processor's image token where each image was. Greedy decoding, sampling, `seed` and token counts are
    LocalGenerator's; prompt tokens include the image tokens.
    """

    _MISSING = ("vision-language model directory {model!r} does not exist: pass a directory holding a model and "
                "its processor (written by save_pretrained, or by `hf download HUB_ID --local-dir DIR` on a "
                "machine with network)")
    _NEEDS = ("the transformers VLM backend needs torch and transformers ({err}): pip install torch transformers "
              "pillow into the project venv")
    _NOT_LOCAL = ("no vision-language model weights for {model!r}: it is not a local directory and, with "
                  "local_files_only true, only the local Hugging Face cache is searched, which does not hold it. "
                  "Pass a directory holding the model and its processor (on a machine with network run "
                  "`hf download {model} --local-dir DIR`, then copy DIR here), or pass local_files_only=False "
                  "where the hub is reachable ({err})")
    _NOT_ON_HUB = ("cannot get vision-language model weights for {model!r} from the Hugging Face hub: check the hub "
                   "id and the network, or pass a local directory holding the model and its processor ({err})")
    # A text-only or broken checkpoint: many exception types (ValueError, KeyError, ...).
    _CANNOT_LOAD = "cannot load a vision-language model and its processor from {source!r} on {device!r}: {err}"

    def _load(self, local_files_only: bool) -> None:
        self._processor = self._transformers.AutoProcessor.from_pretrained(
            self.source, local_files_only=local_files_only)
        self._model = self._transformers.AutoModelForImageTextToText.from_pretrained(
            self.source, local_files_only=local_files_only).to(self._device).eval()
        self._tokenizer = getattr(self._processor, "tokenizer", None)
        if self._tokenizer is None or getattr(self._processor, "image_processor", None) is None:
            raise LLMError(f"{self.source!r} has no image processor and tokenizer (a text-only model?): the VLM "
                           "backend needs a vision-language model saved with its processor", kind="weights")

    def prompt(self, messages: Sequence[ChatMessage]) -> tuple[str, list[Any]]:
        """The exact text the model is given (before the processor expands image tokens) and the images in the
        order their places appear in it."""
        images: list[Any] = []
        turns: list[dict[str, Any]] = []
        for message in messages:
            parts = (TextPart(message.content),) if isinstance(message.content, str) else message.content
            content: list[dict[str, Any]] = []
            for part in parts:
                if isinstance(part, ImagePart):
                    images.append(decode_data_url(part.data_url))
                    content.append({"type": "image"})
                else:
                    content.append({"type": "text", "text": part.text})
            turns.append({"role": message.role, "content": content})
        if getattr(self._processor, "chat_template", None):
            try:
                text = self._processor.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)
            except Exception as err:  # jinja2 errors, and templates raise their own (e.g. "no system role")
                roles = ", ".join(dict.fromkeys(t["role"] for t in turns))
                raise LLMError(f"the chat template of {self.source!r} rejects these messages (roles {roles}): "
                               f"{err}", kind="config") from err
            return text, images
        token = getattr(self._processor, "image_token", None) or "<image>"
        lines = [f"{t['role']}: " + "".join(token if c["type"] == "image" else c["text"] for c in t["content"])
                 for t in turns]
        return "".join(f"{line}\n" for line in lines) + "assistant:", images

    def _inputs(self, messages: Sequence[ChatMessage]) -> Any:
        text, images = self.prompt(messages)
        try:
            inputs = self._processor(text=[text], images=images or None, return_tensors="pt")
        except (ValueError, TypeError) as err:  # e.g. image tokens and images that do not match up
            raise LLMError(f"the processor of {self.source!r} cannot prepare these messages ({len(images)} "
                           f"image(s)): {err}", kind="config") from err
        return inputs.to(self._device)
