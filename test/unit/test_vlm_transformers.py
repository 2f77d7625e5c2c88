"""The local transformers vision-language backend on a tiny randomly initialised LLaVA (a one-layer CLIP vision
tower and a one-layer Llama) with a byte-level BPE tokenizer and a PIL image processor, all built and saved
here offline in a few seconds. Random weights say nothing sensible, so these check loading, image handling,
prompting, sampling, token counts and the errors; not answer quality."""
from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # set before huggingface_hub is imported: a test must never download

import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the transformers VLM backend needs torch")
transformers = pytest.importorskip("transformers", reason="the transformers VLM backend needs transformers")
if not hasattr(transformers, "AutoModelForImageTextToText") or not hasattr(transformers, "LlavaConfig"):
    pytest.skip(f"transformers {transformers.__version__} has no AutoModelForImageTextToText or LLaVA, which the "
                "tiny test model needs", allow_module_level=True)

from planner_ros.llm import ChatMessage, ImagePart, LLMError, TextPart, image_part  # noqa: E402
from planner_ros.planning.conditions import parse_condition  # noqa: E402
from planner_ros.planning.interfaces import VerdictStatus, VerifyRequest  # noqa: E402
from planner_ros.skills import SkillCall, SkillOutcome  # noqa: E402
from planner_ros.verification.transformers_vlm import TransformersVLMChatModel  # noqa: E402
from planner_ros.verification.vlm_verifier import CameraImage, VLMVerifier  # noqa: E402

SENTENCES = ["is the apple inside the fridge? yes no", "locked: the door did not move",
             "user: assistant: image from camera table_cam"]
CHAT_TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|>{% for p in m['content'] %}"
                 "{% if p['type'] == 'image' %}<image>{% else %}{{ p['text'] }}{% endif %}{% endfor %}\n{% endfor %}"
                 "{% if add_generation_prompt %}<|assistant|>{% endif %}")
IMAGE_SIZE, PATCH = 32, 16  # (32 / 16)^2 = 4 image tokens per image


def _rgb(value: int, shape=(24, 40)) -> np.ndarray:
    rng = np.random.default_rng(value)
    return rng.integers(0, 256, (*shape, 3), dtype=np.uint8)


def _message(*images: np.ndarray, text: str = "Is the apple inside the fridge?") -> list[ChatMessage]:
    return [ChatMessage("user", (*(image_part(i) for i in images), TextPart(text)))]


def _tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(SENTENCES, trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<eos>", "<pad>", "<image>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>", pad_token="<pad>",
                                                extra_special_tokens={"image_token": "<image>"})


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny LLaVA saved with its processor (with a chat template, and a copy without one), and a tiny text-only
    GPT-2 that the VLM backend must refuse."""
    root = tmp_path_factory.mktemp("tiny_vlm")
    tokenizer = _tokenizer()
    # Without torchvision transformers 5 offers the PIL image processors; with it, the default one.
    processor_class = getattr(transformers, "CLIPImageProcessorPil", None) or transformers.CLIPImageProcessor
    image_processor = processor_class(size={"shortest_edge": IMAGE_SIZE},
                                      crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE})
    processor = transformers.LlavaProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=PATCH,
                                            vision_feature_select_strategy="default", chat_template=CHAT_TEMPLATE,
                                            num_additional_image_tokens=1)
    vision = transformers.CLIPVisionConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                           num_attention_heads=2, image_size=IMAGE_SIZE, patch_size=PATCH,
                                           projection_dim=16)
    text = transformers.LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                                    num_key_value_heads=2, vocab_size=len(tokenizer), max_position_embeddings=512,
                                    bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
                                    pad_token_id=tokenizer.pad_token_id)
    config = transformers.LlavaConfig(vision_config=vision, text_config=text,
                                      image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
                                      vision_feature_layer=-1, vision_feature_select_strategy="default")
    torch.manual_seed(0)
    templated, plain, text_only = root / "llava", root / "llava_plain", root / "gpt2"
    transformers.LlavaForConditionalGeneration(config).save_pretrained(templated)
    processor.save_pretrained(templated)
    shutil.copytree(templated, plain)
    for name in ("chat_template.jinja", "chat_template.json"):
        (plain / name).unlink(missing_ok=True)
    gpt2 = transformers.GPT2Config(n_layer=1, n_head=2, n_embd=16, n_positions=64, vocab_size=len(tokenizer),
                                 bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id)
    transformers.GPT2LMHeadModel(gpt2).save_pretrained(text_only)
    tokenizer.save_pretrained(text_only)
    return {"templated": templated, "plain": plain, "text_only": text_only}


@pytest.fixture(scope="module")
def model(model_dirs) -> TransformersVLMChatModel:
    return TransformersVLMChatModel(str(model_dirs["templated"]), seed=3)


def test_prompt_uses_the_chat_template_with_one_image_token_per_image(model):
    text, images = model.prompt(_message(_rgb(1), _rgb(2)))
    # (transformers renders chat templates with trim_blocks: the newline after a block tag goes)
    assert text == "<|user|><image><image>Is the apple inside the fridge?<|assistant|>"
    assert len(images) == 2 and images[0].size == (40, 24) and images[0].mode == "RGB"
    np.testing.assert_array_equal(np.asarray(images[1]), _rgb(2))


def test_without_a_chat_template_the_prompt_is_a_transcript(model_dirs):
    plain = TransformersVLMChatModel(str(model_dirs["plain"]))
    text, images = plain.prompt([ChatMessage("system", "You check robots."), *_message(_rgb(1))])
    assert text == "system: You check robots.\nuser: <image>Is the apple inside the fridge?\nassistant:"
    assert len(images) == 1
    assert len(plain.complete(_message(_rgb(1)), max_tokens=3).texts) == 1


def test_sampling_gives_n_answers_and_counts_tokens_images_included(model):
    result = model.complete(_message(_rgb(1), _rgb(2)), n=3, temperature=0.8, max_tokens=4)
    assert len(result.texts) == 3 and all(isinstance(t, str) for t in result.texts)
    assert result.calls == 1 and result.model == f"transformers:{model.source}" and result.latency_s > 0
    processor = transformers.AutoProcessor.from_pretrained(model.source)
    text, images = model.prompt(_message(_rgb(1), _rgb(2)))
    ids = processor(text=[text], images=images, return_tensors="pt")["input_ids"]
    assert result.prompt_tokens == ids.shape[1]
    assert (ids == processor.tokenizer.convert_tokens_to_ids("<image>")).sum() == 2 * (IMAGE_SIZE // PATCH) ** 2
    assert 0 < result.completion_tokens <= 3 * 4


def test_greedy_is_deterministic_and_a_seed_repeats_samples(model, model_dirs):
    first = model.complete(_message(_rgb(1)), n=2, max_tokens=4)
    assert first.texts[0] == first.texts[1] == model.complete(_message(_rgb(1)), max_tokens=4).texts[0]
    a = TransformersVLMChatModel(str(model_dirs["templated"]), seed=7)
    b = TransformersVLMChatModel(str(model_dirs["templated"]), seed=7)
    kwargs = dict(n=2, temperature=1.0, max_tokens=5)
    assert a.complete(_message(_rgb(4)), **kwargs).texts == b.complete(_message(_rgb(4)), **kwargs).texts


def test_text_only_messages_work_too(model):
    result = model.complete([ChatMessage("user", "is the door open?")], max_tokens=3)
    assert len(result.texts) == 1 and result.prompt_tokens > 0


def test_the_vlm_verifier_runs_on_the_local_model_and_never_claims_what_it_cannot_parse(model):
    class Images:
        def latest(self, cameras, after_s):
            return [CameraImage("table_cam", _rgb(5), 2.0)]

    verifier = VLMVerifier(model, Images(), samples=3, temperature=0.9, max_tokens=4)
    call = SkillCall("place", (("object", "apple_1"), ("target", "fridge")))
    request = VerifyRequest("put the apple in the fridge", call, SkillOutcome(True),
                            (parse_condition("in(apple_1, fridge)"),), 1.0)
    verdict = verifier.verify(request)
    # Random weights write no clean yes/no: the answers count as unparsable and the verdict stays UNKNOWN.
    assert verdict.status == VerdictStatus.UNKNOWN, verdict.reason
    assert verdict.backend == f"vlm:transformers:{model.source}"
    assert verdict.model_calls == 1 and verdict.prompt_tokens > 0 and verdict.completion_tokens > 0


def test_missing_weights_text_only_models_and_bad_images_are_clear_errors(model, model_dirs, tmp_path):
    with pytest.raises(LLMError) as absent:
        TransformersVLMChatModel(str(tmp_path / "no" / "such" / "dir"))
    assert absent.value.kind == "weights" and "does not exist" in str(absent.value)
    with pytest.raises(LLMError) as hub:
        TransformersVLMChatModel("nobody/no-such-vlm-for-tests")  # local_files_only: the cache only
    assert hub.value.kind == "weights" and "local_files_only" in str(hub.value)
    with pytest.raises(LLMError) as text_only:
        TransformersVLMChatModel(str(model_dirs["text_only"]))
    assert text_only.value.kind == "weights" and "gpt2" in str(text_only.value).lower()
    with pytest.raises(LLMError) as url:
        model.complete([ChatMessage("user", (ImagePart("https://example.com/a.png"), TextPart("hi")))])
    assert url.value.kind == "config" and "data URLs" in str(url.value)
    with pytest.raises(LLMError) as garbage:
        model.complete([ChatMessage("user", (ImagePart("data:image/png;base64,AAAA"), TextPart("hi")))])
    assert garbage.value.kind == "config" and "readable image" in str(garbage.value)
    with pytest.raises(ValueError, match="n must be a positive integer"):
        model.complete(_message(_rgb(1)), n=0)
