"""Open-vocabulary zero-shot detection with Hugging Face transformers: OWLv2, OWL-ViT and Grounding DINO.

Every non-blank vocabulary name is a text query, so nothing is mapped onto a fixed class list. The model is a
local directory written by save_pretrained (model and processor together) or, only with allow_download, a hub
id. torch and transformers are imported when a detector is built, so the rest of the package runs without them.

Grounding DINO reads one prompt, "a. b. c.", and scores every prompt token per box. Its own post-processing
decodes the tokens above text_threshold back into a phrase string, which can straddle names or hold "[SEP]".
Here a box is labelled through the prompt token span of each name instead: its score is its best token inside
a name's span (separators and [CLS]/[SEP] do not count), its label that name, so a label is always a
vocabulary name and never text the model made up.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from planner_ros.perception.backends.closed_set import nms
from planner_ros.perception.detection import Detection2D, Detector, DetectorError, VocabularyReport, WeightsMissing

if TYPE_CHECKING:
    import PIL.Image

__all__ = ["MODEL_TYPES", "ZeroShotDetector"]

_log = logging.getLogger(__name__)

OWL_TYPES = ("owlv2", "owlvit")
GROUNDING_TYPES = ("grounding-dino", "mm-grounding-dino")  # same processor, prompt and outputs
MODEL_TYPES = OWL_TYPES + GROUNDING_TYPES
# Grounding DINO splits its prompt into phrases at these characters, so they cannot appear inside a name.
_PHRASE_SEPARATORS = str.maketrans({".": " ", "?": " "})


def _query_text(name: str, model_type: str) -> str:
    """The text a name is queried with: lower case with single spaces (both tokenizers lower-case anyway, so
    names differing only in case or spacing share one query); Grounding DINO also loses its separators."""
    if model_type in GROUNDING_TYPES:
        name = name.translate(_PHRASE_SEPARATORS)
    return " ".join(name.lower().split())


class ZeroShotDetector(Detector):
    backend = "transformers"

    def __init__(self, model: str, *, score_threshold: float = 0.2, text_threshold: float = 0.25,
                 iou_threshold: float = 0.5, allow_download: bool = False, device: str = "cpu") -> None:
        """`score_threshold` keeps boxes; `text_threshold` (Grounding DINO only, as in its post-processing) is
        what the label's best token must also exceed; `iou_threshold` is for per-label non-maximum suppression,
        since both families return overlapping boxes for one object."""
        local = Path(model).expanduser()
        if not local.is_dir() and not allow_download:
            # A hub id is NAME or ORG/NAME; a path is no use in a download command.
            hub_id = model if re.fullmatch(r"\w[\w.-]*(/[\w.-]+)?", model) else "HUB_ID"
            raise WeightsMissing(
                f"transformers detector model {model!r} is not a local directory, and allow_download is false so "
                "nothing is fetched from the Hugging Face hub: pass a directory holding a model and its processor "
                f"(on a machine with internet run `hf download {hub_id} --local-dir DIR`, or save_pretrained both "
                "to DIR, then copy DIR here), or set allow_download true where the hub is reachable")
        self.source = str(local) if local.is_dir() else model
        try:
            import torch
            import transformers
        except ImportError as err:
            raise DetectorError(f"the transformers backend needs torch and transformers ({err}): pip install "
                                "torch transformers into the project venv") from err
        self._torch = torch
        offline = not allow_download
        try:
            config = transformers.AutoConfig.from_pretrained(self.source, local_files_only=offline)
        except Exception as err:  # transformers and huggingface_hub raise many types (OSError, ValueError, ...)
            raise DetectorError(f"cannot load the transformers model config from {self.source!r}: {err}") from err
        self.model_type: str = config.model_type
        if self.model_type not in MODEL_TYPES:
            raise DetectorError(f"{self.source!r} is a {self.model_type!r} model; the transformers backend runs "
                                f"zero-shot detectors of type {', '.join(MODEL_TYPES)}")
        try:
            self._device = torch.device(device)
            self._processor = transformers.AutoProcessor.from_pretrained(self.source, local_files_only=offline)
            self._model = transformers.AutoModelForZeroShotObjectDetection.from_pretrained(
                self.source, local_files_only=offline).to(self._device).eval()
        except Exception as err:
            raise DetectorError(f"cannot load the {self.model_type} model from {self.source!r} on {device!r}: "
                                f"{err}") from err
        if getattr(self._processor, "tokenizer", None) is None or \
                getattr(self._processor, "image_processor", None) is None:
            raise DetectorError(f"{self.source!r} has no complete processor (tokenizer and image processor): "
                                "save it beside the model with processor.save_pretrained(DIR)")
        self.score_threshold = score_threshold
        self.text_threshold = text_threshold
        self.iou_threshold = iou_threshold
        self._names: tuple[str, ...] = ()
        self._labels: list[str] = []  # query index -> the vocabulary name its detections are labelled with
        self._queries: list[str] = []
        # Grounding DINO only: the prompt, its token count, and each query's token range [start, end) in it.
        self._prompt = ""
        self._prompt_len = 0
        self._spans: list[tuple[int, int]] = []

    def describe(self) -> str:
        return f"{self.backend} ({self.model_type} from {self.source}, {len(self._names)} names)"

    @property
    def vocabulary(self) -> tuple[str, ...]:
        return self._names

    def set_vocabulary(self, names: Sequence[str]) -> VocabularyReport:
        reasons: dict[str, str] = {}
        query_of: dict[str, str] = {}
        for name in dict.fromkeys(names):  # unique, in order
            query = _query_text(name, self.model_type)
            if query:
                query_of[name] = query
            else:
                reasons[name] = "empty name" if not name.strip() else \
                    "nothing left once '.' and '?' are removed (they separate Grounding DINO's phrases)"
        if self.model_type in GROUNDING_TYPES:
            reasons.update(self._set_grounding_prompt(query_of))
        else:
            reasons.update(self._set_owl_queries(query_of))
        self._names = tuple(n for n in query_of if n not in reasons)
        matches = {n: query_of[n] for n in self._names}
        missing = tuple(n for n in dict.fromkeys(names) if n in reasons)
        return VocabularyReport(self._names, missing, reasons, matches)

    def _set_owl_queries(self, query_of: dict[str, str]) -> dict[str, str]:
        """One query per distinct text; OWL's text encoder has a fixed token budget per query."""
        limit = self._model.config.text_config.max_position_embeddings
        reasons: dict[str, str] = {}
        label_of: dict[str, str] = {}
        for name, query in query_of.items():
            count = len(self._processor.tokenizer(query, verbose=False)["input_ids"])
            if count > limit:
                reasons[name] = f"{count} tokens, but the OWL text encoder takes at most {limit}: shorten it"
            else:
                label_of.setdefault(query, name)  # the first name asking for a query labels its detections
        self._queries, self._labels = list(label_of), list(label_of.values())
        return reasons

    def _set_grounding_prompt(self, query_of: dict[str, str]) -> dict[str, str]:
        """Build "a. b. c." from the longest prefix of the queries that fits the model's text length, and find
        each query's tokens in it through the tokenizer's character offsets."""
        label_of: dict[str, str] = {}
        for name, query in query_of.items():
            label_of.setdefault(query, name)
        reasons: dict[str, str] = {}

        def refuse(query: str, reason: str) -> None:
            reasons.update({name: reason for name, q in query_of.items() if q == query})

        tokenizer = self._processor.tokenizer
        queries = []
        for query in label_of:
            if tokenizer(query, add_special_tokens=False)["input_ids"]:
                queries.append(query)
            else:
                refuse(query, "the tokenizer turns it into no tokens")
        limit = self._model.config.max_text_len
        while True:
            prompt = " ".join(f"{q}." for q in queries)
            encoding = tokenizer(prompt, return_offsets_mapping=True, verbose=False)
            if len(encoding["input_ids"]) <= limit:
                break
            refuse(queries.pop(), f"it does not fit the {limit}-token Grounding DINO prompt after the names "
                                  "before it: look for fewer or shorter names at once")
        spans: list[tuple[int, int]] = []
        start = 0
        for query in queries:
            end = start + len(query)
            tokens = [i for i, (a, b) in enumerate(encoding["offset_mapping"]) if b > a and a >= start and b <= end]
            if not tokens:
                raise DetectorError(f"the tokenizer of {self.source!r} reports no token offsets for {query!r} "
                                    f"in the prompt {prompt!r}")
            spans.append((tokens[0], tokens[-1] + 1))
            start = end + 2  # past ". "
        self._queries = queries
        self._labels = [label_of[q] for q in queries]
        self._spans = spans
        self._prompt = prompt
        self._prompt_len = len(encoding["input_ids"])
        return reasons

    def detect(self, rgb: np.ndarray, segmentation: np.ndarray | None = None) -> list[Detection2D]:
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise DetectorError(f"expected an (H, W, 3) uint8 RGB image, got {rgb.shape} {rgb.dtype}")
        if not self._queries:
            return []
        from PIL import Image
        image = Image.fromarray(rgb)  # a PIL image leaves no doubt about the channel axis
        with self._torch.inference_mode():
            if self.model_type in GROUNDING_TYPES:
                boxes, scores, query_ids = self._detect_grounding(image)
            else:
                boxes, scores, query_ids = self._detect_owl(image)
        return self._finish(boxes, scores, query_ids, rgb.shape[0], rgb.shape[1])

    def _detect_owl(self, image: PIL.Image.Image) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        inputs = self._processor(images=image, text=[self._queries], return_tensors="pt").to(self._device)
        outputs = self._model(**inputs)
        # target_sizes makes the boxes input pixels; for OWLv2 it also undoes the square padding.
        result = self._processor.image_processor.post_process_object_detection(
            outputs=outputs, threshold=self.score_threshold, target_sizes=[(image.height, image.width)])[0]
        return (result["boxes"].float().cpu().numpy(), result["scores"].float().cpu().numpy(),
                result["labels"].cpu().numpy())

    def _detect_grounding(self, image: PIL.Image.Image) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        inputs = self._processor(images=image, text=self._prompt, return_tensors="pt").to(self._device)
        if inputs["input_ids"].shape[1] != self._prompt_len:
            raise DetectorError(f"the processor tokenised the prompt into {inputs['input_ids'].shape[1]} tokens, "
                                f"not {self._prompt_len}: the labels would be wrong")
        outputs = self._model(**inputs)
        probs = outputs.logits[0].sigmoid()  # (boxes, max_text_len): each prompt token's probability per box
        per_query = self._torch.stack([probs[:, a:b].amax(dim=1) for a, b in self._spans], dim=1)
        best = per_query.max(dim=1)
        scores, query_ids = best.values.float().cpu().numpy(), best.indices.cpu().numpy()
        keep = scores > self.score_threshold
        unlabelled = int((keep & (scores <= self.text_threshold)).sum())
        if unlabelled:
            _log.debug("%d boxes above score_threshold %.2f dropped: no name's token reaches text_threshold %.2f",
                       unlabelled, self.score_threshold, self.text_threshold)
        keep &= scores > self.text_threshold
        cx, cy, bw, bh = outputs.pred_boxes[0].float().cpu().numpy()[keep].T  # centre and size, 0..1
        boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
        return boxes * [image.width, image.height, image.width, image.height], scores[keep], query_ids[keep]

    def _finish(self, boxes: np.ndarray, scores: np.ndarray, query_ids: np.ndarray, h: int,
                w: int) -> list[Detection2D]:
        """Clip to the image, drop boxes left empty or non-finite, suppress same-label duplicates."""
        boxes = np.clip(boxes.reshape(-1, 4), 0, [w, h, w, h])
        ok = np.isfinite(boxes).all(axis=1) & np.isfinite(scores) & (boxes[:, 2] > boxes[:, 0]) & \
            (boxes[:, 3] > boxes[:, 1])
        boxes, scores, query_ids = boxes[ok], scores[ok], query_ids[ok].astype(int)
        if not len(scores):
            return []
        # Per-label NMS: shifting each query's boxes beyond the image keeps different labels apart.
        shift = (query_ids * (max(h, w) + 1))[:, None]
        out = []
        for i in nms(boxes + shift, scores, self.iou_threshold):
            label = self._labels[query_ids[i]]
            out.append(Detection2D(label, float(scores[i]), tuple(float(v) for v in boxes[i]), label))
        return out
