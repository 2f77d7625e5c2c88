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
import random
import re
import time
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from planner_ros.llm.base import ChatMessage, Completion, ImagePart, LLMError, TextPart, check_sampling_args
from planner_ros.llm.transformers_local import _cut_at_stop, _stop_criterion

__all__ = ["TransformersVLMChatModel", "decode_data_url"]

_HUB_ID = re.compile(r"\w[\w.-]*(/[\w.-]+)?")  # NAME or ORG/NAME; anything else can only be a path
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


class TransformersVLMChatModel:
    """Chat completions with images from a local vision-language model.

    The prompt is the processor's chat template when it has one (each image part becomes an {"type": "image"}
    entry, the template writes the model's image token), else a "role: content" transcript with the
    processor's image token where each image was. temperature 0 decodes greedily (n identical answers from
    one generate call); above 0 it samples n answers in one call; `seed` makes the sequence of answers
    reproducible per model object. Token counts: prompt tokens (image tokens included) once per generate
    call, completion tokens for every returned answer.
    """

    def __init__(self, model: str, *, device: str = "cpu", local_files_only: bool = True,
                 seed: int | None = None) -> None:
        if not model:
            raise ValueError("model must be a local model directory or a hub id")
        local = Path(model).expanduser()
        if local.is_dir():
            self.source = str(local)
        elif not _HUB_ID.fullmatch(model):
            raise LLMError(f"vision-language model directory {model!r} does not exist: pass a directory holding a "
                           "model and its processor (written by save_pretrained, or by `hf download HUB_ID "
                           "--local-dir DIR` on a machine with network)", kind="weights")
        else:
            self.source = model
        self.name = f"transformers:{self.source}"
        try:
            import torch
            import transformers
        except ImportError as err:
            raise LLMError(f"the transformers VLM backend needs torch and transformers ({err}): pip install torch "
                           "transformers pillow into the project venv", kind="config") from err
        self._torch = torch
        self._transformers = transformers
        try:
            self._device = torch.device(device)
        except (RuntimeError, TypeError) as err:
            raise ValueError(f"device {device!r} is not a torch device such as 'cpu' or 'cuda:0'") from err
        try:
            self._processor = transformers.AutoProcessor.from_pretrained(self.source, local_files_only=local_files_only)
            self._model = transformers.AutoModelForImageTextToText.from_pretrained(
                self.source, local_files_only=local_files_only).to(self._device).eval()
        except OSError as err:  # what transformers and huggingface_hub raise for weights they cannot find
            raise LLMError(self._not_found(model, local_files_only, err), kind="weights") from err
        except Exception as err:  # a text-only or broken checkpoint: many types (ValueError, KeyError, ...)
            raise LLMError(f"cannot load a vision-language model and its processor from {self.source!r} on "
                           f"{device!r}: {err}", kind="weights") from err
        self._tokenizer = getattr(self._processor, "tokenizer", None)
        if self._tokenizer is None or getattr(self._processor, "image_processor", None) is None:
            raise LLMError(f"{self.source!r} has no image processor and tokenizer (a text-only model?): the VLM "
                           "backend needs a vision-language model saved with its processor", kind="weights")
        self._rng = random.Random(seed) if seed is not None else None
        eos = self._model.generation_config.eos_token_id
        if eos is None:
            eos = self._tokenizer.eos_token_id
        self._eos_ids = set(eos if isinstance(eos, list) else [] if eos is None else [eos])
        pad = self._tokenizer.pad_token_id
        self._pad_id = pad if pad is not None else (min(self._eos_ids) if self._eos_ids else 0)

    @staticmethod
    def _not_found(model: str, local_files_only: bool, err: Exception) -> str:
        if local_files_only:
            return (f"no vision-language model weights for {model!r}: it is not a local directory and, with "
                    "local_files_only true, only the local Hugging Face cache is searched, which does not hold it. "
                    "Pass a directory holding the model and its processor (on a machine with network run "
                    f"`hf download {model} --local-dir DIR`, then copy DIR here), or pass local_files_only=False "
                    f"where the hub is reachable ({err})")
        return (f"cannot get vision-language model weights for {model!r} from the Hugging Face hub: check the hub "
                f"id and the network, or pass a local directory holding the model and its processor ({err})")

    def __repr__(self) -> str:
        return f"TransformersVLMChatModel({self.source!r}, device={str(self._device)!r})"

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

    def complete(self, messages: Sequence[ChatMessage], *, n: int = 1, temperature: float = 0.0,
                 top_p: float = 1.0, max_tokens: int = 512, stop: Sequence[str] = ()) -> Completion:
        check_sampling_args(messages, n, temperature, top_p, max_tokens, stop)
        start = time.monotonic()
        text, images = self.prompt(messages)
        try:
            inputs = self._processor(text=[text], images=images or None, return_tensors="pt")
        except (ValueError, TypeError) as err:  # e.g. image tokens and images that do not match up
            raise LLMError(f"the processor of {self.source!r} cannot prepare these messages ({len(images)} "
                           f"image(s)): {err}", kind="config") from err
        inputs = inputs.to(self._device)
        prompt_len = inputs["input_ids"].shape[1]
        sample = temperature > 0.0
        kwargs: dict[str, Any] = {"max_new_tokens": max_tokens, "pad_token_id": self._pad_id}
        if sample:
            kwargs.update(do_sample=True, temperature=temperature, top_p=top_p, top_k=0, num_return_sequences=n)
        else:
            # Greedy decoding has one answer; generate refuses num_return_sequences > 1 without sampling.
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if stop:
            kwargs["stopping_criteria"] = self._transformers.StoppingCriteriaList(
                [_stop_criterion(self._transformers, self._tokenizer, stop, prompt_len)])
        torch = self._torch
        seeded = torch.random.fork_rng(devices=self._rng_devices()) if self._rng is not None else nullcontext()
        with seeded, torch.inference_mode():
            if self._rng is not None:
                torch.manual_seed(self._rng.randrange(2 ** 63))
            output = self._model.generate(**inputs, **kwargs)
        texts: list[str] = []
        completion_tokens = 0
        for row in output[:, prompt_len:].tolist():
            row = row[:self._generated_length(row)]
            completion_tokens += len(row)
            texts.append(_cut_at_stop(self._tokenizer.decode(row, skip_special_tokens=True), stop))
        if not sample:
            texts, completion_tokens = texts * n, completion_tokens * n
        return Completion(tuple(texts), int(prompt_len), completion_tokens, self.name, 1, time.monotonic() - start)

    def _rng_devices(self) -> list[int]:
        if self._device.type == "cuda":
            return [self._device.index if self._device.index is not None else self._torch.cuda.current_device()]
        return []

    def _generated_length(self, row: list[int]) -> int:
        """Tokens generated in a row: up to and including the first end-of-sequence token, else up to the
        padding generate adds after a sequence that ended early."""
        for i, token in enumerate(row):
            if token in self._eos_ids:
                return i + 1
        end = len(row)
        while end and row[end - 1] == self._pad_id:
            end -= 1
        return end
