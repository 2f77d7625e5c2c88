"""A causal language model run in-process with Hugging Face transformers (text only).

The model is a local directory written by save_pretrained (model and tokenizer together) or, only with
local_files_only=False, a hub id. torch and transformers are imported when a model is built, so importing
planner_ros.llm costs nothing for users of the HTTP backend.

LocalGenerator holds what this backend shares with the vision-language one (planner_ros.verification.
transformers_vlm): finding and loading the model, and generation with its sampling, stop strings, seeding and
token counts. A subclass loads its own model classes and turns messages into model inputs.
"""
from __future__ import annotations

import random
import re
import time
from contextlib import nullcontext
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from planner_ros.llm.base import ChatMessage, Completion, LLMError, check_sampling_args, message_text

__all__ = ["TransformersChatModel"]

_HUB_ID = re.compile(r"\w[\w.-]*(/[\w.-]+)?")  # NAME or ORG/NAME; anything else can only be a path


class LocalGenerator:
    """Chat completions from a model run in-process with transformers; a subclass supplies _load and _inputs.

    temperature 0 decodes greedily (n identical answers from one generate call); above 0 it samples n answers
    in one call. `seed` makes sampling reproducible per model object: each complete() call draws its torch seed
    from a generator seeded with it, so calls differ from each other but the same seed gives the same sequence
    of answers. Token counts: prompt tokens once per generate call, completion tokens generated for every
    returned answer (up to and including an end-of-sequence token).
    """

    # Error messages, each subclass in its own words. Fields: {model} as given, {source} and {device} as
    # resolved, {err} the underlying error.
    _MISSING: str  # model is neither a directory nor a hub id
    _NEEDS: str  # torch or transformers cannot be imported
    _NOT_LOCAL: str  # no weights, local_files_only true
    _NOT_ON_HUB: str  # no weights, local_files_only false
    _CANNOT_LOAD: str  # the checkpoint is there but does not load

    _model: Any
    _tokenizer: Any

    def __init__(self, model: str, *, device: str = "cpu", local_files_only: bool = True,
                 seed: int | None = None) -> None:
        if not model:
            raise ValueError("model must be a local model directory or a hub id")
        local = Path(model).expanduser()
        if local.is_dir():
            self.source = str(local)
        elif not _HUB_ID.fullmatch(model):
            raise LLMError(self._MISSING.format(model=model), kind="weights")
        else:
            self.source = model
        self.name = f"transformers:{self.source}"
        try:
            import torch
            import transformers
        except ImportError as err:
            raise LLMError(self._NEEDS.format(err=err), kind="config") from err
        self._torch = torch
        self._transformers = transformers
        try:
            self._device = torch.device(device)
        except (RuntimeError, TypeError) as err:
            raise ValueError(f"device {device!r} is not a torch device such as 'cpu' or 'cuda:0'") from err
        try:
            self._load(local_files_only)
        except LLMError:  # the subclass's own verdict on what it loaded
            raise
        except OSError as err:  # what transformers and huggingface_hub raise for weights they cannot find
            raise LLMError(self._not_found(model, local_files_only, err), kind="weights") from err
        except Exception as err:  # a broken or unsupported checkpoint: many types (ValueError, KeyError, ...)
            raise LLMError(self._CANNOT_LOAD.format(source=self.source, device=device, err=err),
                           kind="weights") from err
        self._rng = random.Random(seed) if seed is not None else None
        eos = self._model.generation_config.eos_token_id
        if eos is None:
            eos = self._tokenizer.eos_token_id
        self._eos_ids = set(eos if isinstance(eos, list) else [] if eos is None else [eos])
        pad = self._tokenizer.pad_token_id
        self._pad_id = pad if pad is not None else (min(self._eos_ids) if self._eos_ids else 0)

    def _load(self, local_files_only: bool) -> None:
        """Load self.source onto self._device: set self._model and self._tokenizer (the one decoding answers)."""
        raise NotImplementedError

    def _inputs(self, messages: Sequence[ChatMessage]) -> Any:
        """The model inputs for these messages (input_ids and whatever else generate takes), on self._device."""
        raise NotImplementedError

    def _not_found(self, model: str, local_files_only: bool, err: Exception) -> str:
        return (self._NOT_LOCAL if local_files_only else self._NOT_ON_HUB).format(model=model, err=err)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.source!r}, device={str(self._device)!r})"

    def complete(self, messages: Sequence[ChatMessage], *, n: int = 1, temperature: float = 0.0,
                 top_p: float = 1.0, max_tokens: int = 512, stop: Sequence[str] = ()) -> Completion:
        check_sampling_args(messages, n, temperature, top_p, max_tokens, stop)
        start = time.monotonic()
        inputs = self._inputs(messages)
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
        # Seeded: draw this call's seed and leave the global RNG as it was. Unseeded: use the global RNG as is;
        # restoring it afterwards would make every call repeat the same samples.
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
        """The CUDA devices whose RNG state fork_rng restores around a seeded call (the CPU's always is)."""
        if self._device.type == "cuda":
            return [self._device.index if self._device.index is not None else self._torch.cuda.current_device()]
        return []

    def _generated_length(self, row: list[int]) -> int:
        """Tokens generated in a row: up to and including the first end-of-sequence token, else up to the
        padding generate adds after a sequence that ended early (a stop string)."""
        for i, token in enumerate(row):
            if token in self._eos_ids:
                return i + 1
        end = len(row)
        while end and row[end - 1] == self._pad_id:
            end -= 1
        return end


class TransformersChatModel(LocalGenerator):
    """Chat completions from a local causal LM.

    The prompt is the tokenizer's chat template when it has one, else a "role: content" transcript ending in
    "assistant:". Greedy decoding, sampling, `seed` and token counts are LocalGenerator's.
    """

    _MISSING = ("transformers model directory {model!r} does not exist: pass a directory holding a causal LM and "
                "its tokenizer (written by save_pretrained, or by `hf download HUB_ID --local-dir DIR` on a machine "
                "with network)")
    _NEEDS = ("the transformers backend needs torch and transformers ({err}): pip install torch transformers into "
              "the project venv")
    _NOT_LOCAL = ("no model weights for {model!r}: it is not a local directory and, with local_files_only true, "
                  "only the local Hugging Face cache is searched, which does not hold it. Pass a directory holding "
                  "a causal LM and its tokenizer (on a machine with network run "
                  "`hf download {model} --local-dir DIR`, or save_pretrained both to DIR, then copy DIR here), or "
                  "pass local_files_only=False where the hub is reachable ({err})")
    _NOT_ON_HUB = ("cannot get model weights for {model!r} from the Hugging Face hub: check the hub id and the "
                   "network, or pass a local directory holding a causal LM and its tokenizer ({err})")
    _CANNOT_LOAD = "cannot load a causal LM and its tokenizer from {source!r} on {device!r}: {err}"

    def _load(self, local_files_only: bool) -> None:
        self._tokenizer = self._transformers.AutoTokenizer.from_pretrained(
            self.source, local_files_only=local_files_only)
        self._model = self._transformers.AutoModelForCausalLM.from_pretrained(
            self.source, local_files_only=local_files_only).to(self._device).eval()

    def prompt_text(self, messages: Sequence[ChatMessage]) -> str:
        """The exact text the model is given for these messages."""
        turns = [{"role": m.role, "content": message_text(m)} for m in messages]
        if getattr(self._tokenizer, "chat_template", None):
            try:
                return self._tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)
            except Exception as err:  # jinja2 errors, and templates raise their own (e.g. "no system role")
                roles = ", ".join(dict.fromkeys(t["role"] for t in turns))
                raise LLMError(f"the chat template of {self.source!r} rejects these messages (roles {roles}): "
                               f"{err}; some templates take no system message or need user and assistant "
                               "turns to alternate", kind="config") from err
        return "".join(f"{t['role']}: {t['content']}\n" for t in turns) + "assistant:"

    def _inputs(self, messages: Sequence[ChatMessage]) -> Any:
        for i, message in enumerate(messages):
            if message.has_images:
                raise LLMError(f"message {i} ({message.role}) holds an image, but {self.name} is a text-only "
                               "backend: use an OpenAI-compatible vision endpoint (backend 'openai') for images",
                               kind="config")
        text = self.prompt_text(messages)
        # A chat template writes its own special tokens; a plain transcript gets the tokenizer's usual ones.
        templated = bool(getattr(self._tokenizer, "chat_template", None))
        return self._tokenizer(text, return_tensors="pt", add_special_tokens=not templated).to(self._device)


def _stop_criterion(transformers: Any, tokenizer: Any, stop: Sequence[str], prompt_len: int) -> Any:
    """A stopping criterion that ends a sequence once its generated text holds a stop string. generate's own
    stop_strings also match across the end of the prompt (a prompt ending "assistant:" stops a "::" at the first
    ":"), leaving an answer cut short with no stop string in it; this looks at the generated text alone."""

    class StopInAnswer(transformers.StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            done = [any(s in tokenizer.decode(row, skip_special_tokens=True) for s in stop)
                    for row in input_ids[:, prompt_len:].tolist()]
            return input_ids.new_tensor(done, dtype=bool)

    return StopInAnswer()


def _cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """The text before the earliest stop string, as OpenAI servers return it (the stop string left out)."""
    cut = min((i for i in (text.find(s) for s in stop) if i >= 0), default=len(text))
    return text[:cut]
