"""The transformers zero-shot backend on tiny randomly initialised OWL-ViT, OWLv2 and (MM-)Grounding DINO models,
built and saved here offline. Random weights find nothing real, so these check loading, vocabulary handling,
the form of the detections and, with stubbed model outputs, how boxes and labels are read; not detection quality.
"""
from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # set before huggingface_hub is imported: a test must never download

import shutil
import string
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the transformers backend needs torch")
transformers = pytest.importorskip("transformers", reason="the transformers backend needs transformers")

from planner_ros.perception.backends.transformers_backend import ZeroShotDetector  # noqa: E402
from planner_ros.perception.detection import Detection2D, DetectorError, WeightsMissing  # noqa: E402

FAMILIES = ("owlvit", "owlv2", "grounding-dino", "mm-grounding-dino")
H, W = 48, 80  # not square, so swapped axes or OWLv2's square padding would show in the boxes
IMAGE = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)


def _clip_tokenizer() -> Any:
    """Byte-level BPE with every byte as a token, alone and word-final, so any text tokenises without merges."""
    from tokenizers.pre_tokenizers import ByteLevel
    vocab: dict[str, int] = {}
    for char in sorted(ByteLevel.alphabet()):
        vocab[char] = len(vocab)
        vocab[char + "</w>"] = len(vocab)
    # OWL takes a query whose first id is 0 for padding, so the special tokens go last, as in CLIP's vocabulary.
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return transformers.CLIPTokenizer(vocab=vocab, merges=[], model_max_length=16)


def _owl(family: str) -> tuple[Any, Any]:
    tokenizer = _clip_tokenizer()
    text = dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                num_attention_heads=2, max_position_embeddings=16, bos_token_id=tokenizer.bos_token_id,
                eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    vision = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=2, image_size=64,
                  patch_size=16)
    if family == "owlvit":
        model = transformers.OwlViTForObjectDetection(
            transformers.OwlViTConfig(text_config=text, vision_config=vision, projection_dim=32))
        size = {"height": 64, "width": 64}
        image_processor = transformers.OwlViTImageProcessor(size=size, crop_size=size)
        return model, transformers.OwlViTProcessor(image_processor=image_processor, tokenizer=tokenizer)
    model = transformers.Owlv2ForObjectDetection(
        transformers.Owlv2Config(text_config=text, vision_config=vision, projection_dim=32))
    image_processor = transformers.Owlv2ImageProcessor(size={"height": 64, "width": 64})
    return model, transformers.Owlv2Processor(image_processor=image_processor, tokenizer=tokenizer)


def _bert_tokenizer() -> Any:
    # Grounding DINO hard-codes bert-base-uncased's ids of its phrase delimiters ([CLS] 101, [SEP] 102, "." 1012,
    # "?" 1029), so the tiny vocabulary keeps them there; letters and word pieces spell any lower-case word.
    vocab = [f"[unused{i}]" for i in range(1030)]
    for i, token in {0: "[PAD]", 100: "[UNK]", 101: "[CLS]", 102: "[SEP]", 103: "[MASK]", 1012: ".",
                     1029: "?"}.items():
        vocab[i] = token
    vocab += ["-", *string.ascii_lowercase, *(f"##{c}" for c in string.ascii_lowercase)]
    return transformers.BertTokenizer(vocab={token: i for i, token in enumerate(vocab)})


def _grounding_dino(family: str) -> tuple[Any, Any]:
    tokenizer = _bert_tokenizer()
    swin = transformers.SwinConfig(image_size=64, patch_size=4, embed_dim=8, depths=[1, 1, 1, 1],
                                   num_heads=[1, 1, 1, 1], window_size=4,
                                   out_features=["stage2", "stage3", "stage4"])
    bert = transformers.BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1,
                                   num_attention_heads=2, intermediate_size=37)
    # Two decoder layers: the later layers' box heads are tied to the first, and one layer leaves nothing to tie.
    sizes = dict(backbone_config=swin, text_config=bert, d_model=32, encoder_layers=1, decoder_layers=2,
                 encoder_ffn_dim=32, decoder_ffn_dim=32, encoder_attention_heads=2, decoder_attention_heads=2,
                 num_queries=10, encoder_n_points=2, decoder_n_points=2)
    if family == "grounding-dino":
        model = transformers.GroundingDinoForObjectDetection(transformers.GroundingDinoConfig(**sizes))
    else:
        model = transformers.MMGroundingDinoForObjectDetection(transformers.MMGroundingDinoConfig(**sizes))
    image_processor = transformers.GroundingDinoImageProcessor(size={"shortest_edge": 64, "longest_edge": 96})
    return model, transformers.GroundingDinoProcessor(image_processor=image_processor, tokenizer=tokenizer)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """family -> directory of a tiny model and its processor, built on first use."""
    built: dict[str, Path] = {}

    def get(family: str) -> Path:
        if family not in built:
            torch.manual_seed(0)
            model, processor = _owl(family) if family.startswith("owl") else _grounding_dino(family)
            directory = tmp_path_factory.mktemp(family)
            model.save_pretrained(directory)
            processor.save_pretrained(directory)
            built[family] = directory
        return built[family]
    return get


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@pytest.mark.parametrize("family", FAMILIES)
def test_detections_are_well_formed(tiny_model: Callable[[str], Path], family: str) -> None:
    directory = tiny_model(family)
    detector = ZeroShotDetector(str(directory), score_threshold=0.0, text_threshold=0.0)
    report = detector.set_vocabulary(["cup", "Red Mug", "cup", " ", ""])
    assert report.detectable == detector.vocabulary == ("cup", "Red Mug")
    assert report.not_detectable == (" ", "")
    assert report.reasons == {" ": "empty name", "": "empty name"}
    assert detector.describe() == f"transformers ({family} from {directory}, 2 names)"
    detections = detector.detect(IMAGE)
    assert detections, "at threshold 0 some of the random model's boxes should come back"
    for d in detections:
        assert d.label in ("cup", "Red Mug") and d.class_name == d.label
        assert 0.0 <= d.score <= 1.0
        x1, y1, x2, y2 = d.box_xyxy
        assert np.isfinite(d.box_xyxy).all() and 0 <= x1 < x2 <= W and 0 <= y1 < y2 <= H
    for i, a in enumerate(detections):  # per-label suppression left no same-label duplicates
        assert all(_iou(a.box_xyxy, b.box_xyxy) <= 0.5 for b in detections[i + 1:] if b.label == a.label)


def test_empty_vocabulary_detects_nothing(tiny_model: Callable[[str], Path]) -> None:
    detector = ZeroShotDetector(str(tiny_model("owlv2")), score_threshold=0.0)
    assert detector.detect(IMAGE) == []  # no vocabulary set yet
    report = detector.set_vocabulary([])
    assert report.detectable == report.not_detectable == ()
    assert detector.detect(IMAGE) == []
    assert detector.set_vocabulary(["  "]).not_detectable == ("  ",)
    assert detector.detect(IMAGE) == []


def test_rejects_images_that_are_not_uint8_rgb(tiny_model: Callable[[str], Path]) -> None:
    detector = ZeroShotDetector(str(tiny_model("owlv2")))
    detector.set_vocabulary(["cup"])
    for bad in (IMAGE[..., 0], IMAGE.astype(np.float32), np.dstack([IMAGE, IMAGE[..., :1]])):
        with pytest.raises(DetectorError, match="uint8 RGB"):
            detector.detect(bad)


def test_names_too_long_for_the_text_encoder_are_reported(tiny_model: Callable[[str], Path]) -> None:
    owl = ZeroShotDetector(str(tiny_model("owlv2")))
    report = owl.set_vocabulary(["cup", string.ascii_lowercase])  # 26 one-letter tokens + 2 > 16
    assert report.detectable == ("cup",)
    assert "at most 16" in report.reasons[string.ascii_lowercase]

    dino = ZeroShotDetector(str(tiny_model("grounding-dino")))
    names = [a + b for a in string.ascii_lowercase[:10] for b in string.ascii_lowercase[:10]]
    report = dino.set_vocabulary(names)
    # Each name is 2 tokens plus its ".": 84 fit in 256 with [CLS] and [SEP], in the order asked.
    assert report.detectable == tuple(names[:84]) and report.not_detectable == tuple(names[84:])
    assert "256-token" in report.reasons[names[-1]]
    assert dino.set_vocabulary(["cup", ". ?"]).reasons == {
        ". ?": "nothing left once '.' and '?' are removed (they separate Grounding DINO's phrases)"}


def _stub_model(monkeypatch: pytest.MonkeyPatch, detector: ZeroShotDetector, logits: torch.Tensor,
                pred_boxes: torch.Tensor) -> None:
    """Replace the network only: the processor, post-processing and labelling still run for real."""
    outputs = SimpleNamespace(logits=logits[None], pred_boxes=pred_boxes[None])
    monkeypatch.setattr(detector, "_model", lambda **inputs: outputs)


def _as_tuples(detections: list[Detection2D]) -> set[tuple[str, tuple[float, ...]]]:
    return {(d.label, tuple(round(v, 3) for v in d.box_xyxy)) for d in detections}


@pytest.mark.parametrize("family", ("grounding-dino", "mm-grounding-dino"))
def test_grounding_boxes_are_labelled_through_name_tokens(tiny_model: Callable[[str], Path],
                                                          monkeypatch: pytest.MonkeyPatch, family: str) -> None:
    directory = tiny_model(family)
    detector = ZeroShotDetector(str(directory), score_threshold=0.2, text_threshold=0.3)
    report = detector.set_vocabulary(["Red Mug", "cup", "T-shirt", "cup."])
    assert report.detectable == ("Red Mug", "cup", "T-shirt", "cup.")  # "cup." shares the query "cup"
    tokens = transformers.AutoTokenizer.from_pretrained(directory).tokenize("red mug. cup. t-shirt.")
    pos = {t: i + 1 for i, t in reversed(list(enumerate(tokens)))}  # first occurrence; +1 for [CLS]
    logits = torch.full((5, 256), -10.0)
    logits[:, len(tokens) + 2:] = float("-inf")  # past [SEP], as the model pads
    logits[0, pos["##g"]] = 3.0                  # the last token of "red mug"
    logits[1, pos["c"]] = 3.0                    # "cup" beats a weaker "t-shirt" token
    logits[1, pos["t"]] = 1.0
    logits[2, [0, pos["."], len(tokens) + 1]] = 3.0  # [CLS], "." and [SEP] name nothing: dropped
    logits[3, pos["r"]] = -1.0                   # 0.27: above score_threshold, below text_threshold: dropped
    logits[4, pos["##t"]] = 0.5                  # "shirt"'s last piece
    boxes = torch.tensor([[0.5, 0.5, 0.5, 0.5], [0.1, 0.1, 0.4, 0.4], [0.5, 0.5, 0.2, 0.2], [0.5, 0.5, 0.2, 0.2],
                          [0.9, 0.9, 0.1, 0.1]])  # centre x, y and size, relative to the image
    _stub_model(monkeypatch, detector, logits, boxes)
    detections = detector.detect(IMAGE)
    assert _as_tuples(detections) == {("Red Mug", (20.0, 12.0, 60.0, 36.0)), ("cup", (0.0, 0.0, 24.0, 14.4)),
                                      ("T-shirt", (68.0, 40.8, 76.0, 45.6))}
    assert sorted(round(d.score, 4) for d in detections) == [0.6225, 0.9526, 0.9526]


@pytest.mark.parametrize("family, bottom", [("owlvit", 24.0), ("owlv2", 40.0)])
def test_owl_boxes_are_input_pixels(tiny_model: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch,
                                    family: str, bottom: float) -> None:
    """OWL-ViT stretches the image to its square input; OWLv2 pads it square at the bottom, so a box over the
    top half of its input is the top 40 of the image's 48 rows (80 wide)."""
    detector = ZeroShotDetector(str(tiny_model(family)), score_threshold=0.5)
    detector.set_vocabulary(["cup", "mug"])
    logits = torch.tensor([[-5.0, 3.0], [3.0, -5.0], [-5.0, 2.0], [-5.0, -5.0]])  # (boxes, queries)
    boxes = torch.tensor([[0.5, 0.25, 1.0, 0.5], [0.5, 0.25, 1.0, 0.5], [0.5, 0.26, 1.0, 0.5],
                          [0.5, 0.5, 0.2, 0.2]])
    _stub_model(monkeypatch, detector, logits, boxes)
    # Box 1 is box 0 for another name, so both stay; box 2 is box 0's weaker duplicate, suppressed; box 3 is
    # below the threshold.
    assert _as_tuples(detector.detect(IMAGE)) == {("mug", (0.0, 0.0, 80.0, bottom)),
                                                  ("cup", (0.0, 0.0, 80.0, bottom))}


def test_make_detector_builds_it(tiny_model: Callable[[str], Path]) -> None:
    from planner_ros.perception.backends import make_detector
    detector = make_detector("transformers", model=str(tiny_model("owlv2")), score_threshold=0.3)
    assert isinstance(detector, ZeroShotDetector) and detector.score_threshold == 0.3


def test_missing_model_names_the_path_and_how_to_supply_it(tmp_path: Path) -> None:
    missing = tmp_path / "owlv2-base"
    with pytest.raises(WeightsMissing, match="owlv2-base") as err:
        ZeroShotDetector(str(missing))
    assert str(missing) in str(err.value) and "hf download HUB_ID --local-dir DIR" in str(err.value)
    with pytest.raises(WeightsMissing, match="allow_download") as err:
        ZeroShotDetector("google/owlv2-base-patch16-ensemble")
    assert "hf download google/owlv2-base-patch16-ensemble --local-dir DIR" in str(err.value)


def test_download_allowed_but_hub_unreachable_is_a_detector_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants
    # Read at call time, so offline holds even if another test module imported huggingface_hub first.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(DetectorError, match="no-such-org/no-such-model") as err:
        ZeroShotDetector("no-such-org/no-such-model", allow_download=True)
    assert not isinstance(err.value, WeightsMissing)


def test_unloadable_directories_raise_detector_error(tiny_model: Callable[[str], Path], tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DetectorError, match=str(empty)):
        ZeroShotDetector(str(empty))

    corrupt = tmp_path / "corrupt"
    shutil.copytree(tiny_model("owlv2"), corrupt)
    (corrupt / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(DetectorError, match=str(corrupt)):
        ZeroShotDetector(str(corrupt))

    no_processor = tmp_path / "no_processor"
    shutil.copytree(tiny_model("owlv2"), no_processor)
    for path in no_processor.iterdir():
        if path.name not in ("config.json", "model.safetensors"):
            path.unlink()
    with pytest.raises(DetectorError, match=str(no_processor)):
        ZeroShotDetector(str(no_processor))

    bert = tmp_path / "bert"
    transformers.BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2).save_pretrained(bert)
    with pytest.raises(DetectorError, match="'bert' model"):
        ZeroShotDetector(str(bert))


def test_missing_transformers_says_what_to_install(tiny_model: Callable[[str], Path],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    directory = tiny_model("owlv2")
    monkeypatch.setitem(sys.modules, "transformers", None)  # makes `import transformers` raise ImportError
    with pytest.raises(DetectorError, match="pip install torch transformers"):
        ZeroShotDetector(str(directory))
