"""The local transformers chat backend on a tiny randomly initialised GPT-2 with a byte-level BPE tokenizer, both
built and saved here offline. Random weights say nothing sensible, so these check loading, prompting, sampling
arguments, token counts and the errors; not answer quality."""
from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # set before huggingface_hub is imported: a test must never download

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the transformers backend needs torch")
transformers = pytest.importorskip("transformers", reason="the transformers backend needs transformers")

from planner_ros.llm import ChatMessage, LLMError, TextPart, TransformersChatModel, image_part  # noqa: E402

SENTENCES = ["pick up the red cup", "place the cup in the sink", "open the drawer and close it",
             "system: user: assistant: you plan robot tasks"]
CHAT_TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
                 "{% if add_generation_prompt %}<|assistant|>{% endif %}")
MESSAGES = [ChatMessage("system", "you plan robot tasks"), ChatMessage("user", "pick up the red cup")]


def _tokenizer(chat_template: str | None) -> transformers.PreTrainedTokenizerFast:
    """Byte-level BPE trained on a few sentences: every byte is in the alphabet, so any text tokenises."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(SENTENCES, trainers.BpeTrainer(
        vocab_size=320, special_tokens=["<eos>", "<pad>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False))
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>", pad_token="<pad>")
    if chat_template:
        fast.chat_template = chat_template
    return fast


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One tiny GPT-2 saved twice: with a plain tokenizer and with one that has a chat template."""
    root = tmp_path_factory.mktemp("tiny_lm")
    plain, templated = root / "plain", root / "templated"
    tokenizer = _tokenizer(None)
    torch.manual_seed(1)  # weights whose greedy answer is not one repeated character
    config = transformers.GPT2Config(n_layer=1, n_head=2, n_embd=32, n_positions=256, vocab_size=len(tokenizer),
                                     bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
                                     pad_token_id=tokenizer.pad_token_id)
    transformers.GPT2LMHeadModel(config).save_pretrained(plain)
    tokenizer.save_pretrained(plain)
    shutil.copytree(plain, templated)
    _tokenizer(CHAT_TEMPLATE).save_pretrained(templated)
    return {"plain": plain, "templated": templated}


@pytest.fixture(scope="module")
def model(model_dirs: dict[str, Path]) -> TransformersChatModel:
    return TransformersChatModel(str(model_dirs["plain"]))


def test_greedy_is_deterministic_and_counts_tokens(model, model_dirs):
    first = model.complete(MESSAGES, max_tokens=6)
    second = model.complete(MESSAGES, max_tokens=6)
    assert first.texts == second.texts and len(first.texts) == 1
    assert first.model == f"transformers:{model_dirs['plain']}" and first.calls == 1 and first.latency_s > 0
    assert 0 < first.completion_tokens <= 6
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dirs["plain"])
    expected_prompt = "system: you plan robot tasks\nuser: pick up the red cup\nassistant:"
    assert model.prompt_text(MESSAGES) == expected_prompt  # no chat template: a plain transcript
    assert first.prompt_tokens == len(tokenizer(expected_prompt)["input_ids"])


def test_greedy_n_gives_n_identical_texts(model):
    result = model.complete(MESSAGES, n=3, max_tokens=5)
    assert len(result.texts) == 3 and len(set(result.texts)) == 1
    assert result.completion_tokens == 3 * model.complete(MESSAGES, max_tokens=5).completion_tokens


def test_sampling_returns_n_texts(model):
    result = model.complete(MESSAGES, n=4, temperature=1.0, top_p=0.95, max_tokens=8)
    assert len(result.texts) == 4 and all(isinstance(t, str) for t in result.texts)
    assert result.prompt_tokens > 0 and 4 <= result.completion_tokens <= 4 * 8
    assert result.calls == 1


def test_seed_makes_sampling_reproducible(model_dirs):
    def samples(seed: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
        lm = TransformersChatModel(str(model_dirs["plain"]), seed=seed)
        return tuple(lm.complete(MESSAGES, n=2, temperature=1.0, max_tokens=4).texts for _ in range(2))

    first_call, second_call = samples(7)
    assert (first_call, second_call) == samples(7)
    assert first_call != second_call  # each call draws a fresh seed
    assert samples(8) != (first_call, second_call)


def test_unseeded_sampling_differs_between_calls(model):
    first, second = (model.complete(MESSAGES, n=2, temperature=1.0, max_tokens=4).texts for _ in range(2))
    assert first != second


def test_rejecting_chat_template_is_a_config_error(model_dirs, tmp_path):
    strict = tmp_path / "strict"
    shutil.copytree(model_dirs["plain"], strict)
    _tokenizer("{% for m in messages %}{% if m['role'] == 'system' %}{{ raise_exception('no system role') }}"
               "{% endif %}{{ m['content'] }}{% endfor %}").save_pretrained(strict)
    lm = TransformersChatModel(str(strict))
    with pytest.raises(LLMError, match="no system role") as caught:
        lm.complete(MESSAGES)
    assert caught.value.kind == "config"
    assert lm.complete(MESSAGES[1:], max_tokens=2).texts  # without the system message it works


def test_stop_strings_cut_the_answer(model):
    full = model.complete(MESSAGES, max_tokens=12)
    greedy = full.texts[0]
    assert len(greedy) >= 4, "the random model should write something"
    # A stop string inside the answer where it can be (the weights of seed 1 write "::hehe..."), and one that
    # the prompt's closing "assistant:" would complete, so matching across the prompt would show.
    k = next((i for i, c in enumerate(greedy) if c != greedy[0]), 1)
    stop = greedy[k:k + 2]
    cut = model.complete(MESSAGES, max_tokens=12, stop=[stop, "xyz"])
    assert cut.texts[0] == greedy[:greedy.find(stop)]
    assert cut.completion_tokens < full.completion_tokens  # generation stopped early
    colon = model.complete(MESSAGES, max_tokens=12, stop=["::"]).texts[0]
    assert colon == (greedy[:greedy.find("::")] if "::" in greedy else greedy)


def test_chat_template_is_used_when_present(model_dirs):
    lm = TransformersChatModel(str(model_dirs["templated"]))
    prompt = lm.prompt_text(MESSAGES)
    assert prompt == "<|system|>you plan robot tasks\n<|user|>pick up the red cup\n<|assistant|>"
    result = lm.complete(MESSAGES, max_tokens=4)
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dirs["templated"])
    assert result.prompt_tokens == len(tokenizer(prompt, add_special_tokens=False)["input_ids"])


def test_missing_directory_is_a_weights_error(tmp_path):
    with pytest.raises(LLMError) as caught:
        TransformersChatModel(str(tmp_path / "no_model_here"))
    assert caught.value.kind == "weights"
    assert "no_model_here" in str(caught.value) and "save_pretrained" in str(caught.value)


def test_uncached_hub_id_says_what_to_pass():
    with pytest.raises(LLMError) as caught:
        TransformersChatModel("planner-ros-test/no-such-model", local_files_only=True)
    message = str(caught.value)
    assert caught.value.kind == "weights"
    assert "planner-ros-test/no-such-model" in message
    assert "local_files_only=False" in message and "directory" in message


def test_image_parts_are_refused(model):
    message = ChatMessage("user", (TextPart("what is this?"), image_part(np.zeros((2, 2, 3), np.uint8))))
    with pytest.raises(LLMError, match="text-only") as caught:
        model.complete([message])
    assert caught.value.kind == "config"


def test_importing_the_package_loads_no_torch():
    code = "import sys, planner_ros.llm; sys.exit(int('torch' in sys.modules or 'transformers' in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0
