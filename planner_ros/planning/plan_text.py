"""Model output to validated skill calls: strict line parsing and grounding of names onto scene ids.

A language model writes plans as text (`1. pick(apple)`, `- navigate_to(the fridge)`). Each line is matched
by regular expressions only, never evaluated; each argument is mapped onto an id of the current view (the
id itself, an object's label, a synonym, or the nearest label by sentence embedding above a threshold),
chosen among the kinds the skill's parameter takes. Steps with unknown skills or arguments that map to
nothing are dropped with their reason (Tree-Planner drops invalid steps, it does not repair them), and
limits on lines, characters and steps bound what adversarial output can cost.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from planner_ros.names import normalise_name
from planner_ros.perception.detection import DetectorError
from planner_ros.perception.vocabulary import DEFAULT_SIMILARITY_THRESHOLD, TextEmbedder
from planner_ros.planning.world import WorldView
from planner_ros.skills import FailureCode, ParamType, SkillCall, SkillLibrary, SkillValidationError

__all__ = ["MAX_LINE_CHARS", "MAX_LINES", "MAX_STEPS", "MAX_TEXT_CHARS", "NameResolver", "ParsedPlan", "Resolution",
           "clean_line", "excerpt", "parse_plan_text"]

MAX_STEPS = 60          # a household plan is far shorter; more is a model looping
MAX_LINE_CHARS = 200    # longer lines are not steps
MAX_LINES = 200         # non-blank lines looked at per answer
MAX_TEXT_CHARS = 20000  # characters of an answer looked at at all

# Where an argument may point, by parameter type (STRING and NUMBER are passed through as written).
KINDS_BY_TYPE = {ParamType.OBJECT: "object", ParamType.RECEPTACLE: "receptacle",
                 ParamType.ARTICULATED: "articulated", ParamType.LOCATION: "location"}
_KIND_WORDS = {"object": "object", "receptacle": "receptacle", "articulated": "door, drawer or openable receptacle",
               "location": "place, receptacle or object"}

# "1. ", "2) ", "- ", "* ", "Step 3: ", "step 3 - " before the call; markdown backticks around it.
_PREFIX = re.compile(r"^(?:(?:step\s*)?\d{1,3}\s*[.):\-]\s*|[-*\u2022]\s+|step\s*\d{1,3}\s*)", re.IGNORECASE)
_CALL = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*\(([^()]*)\)\s*[.;,]?\s*(?:#.*)?$", re.ASCII)
_ATTEMPT = re.compile(r"[A-Za-z0-9_]\(", re.ASCII)  # "pick(" (prose says "plan (short)")
_STOP = {"done", "end", "finish", "finished", "stop", "end of plan"}
_SECTION = re.compile(r"^(?:example|task|scene|goal|plan|done so far|earlier failures)\b[^()]*:?\s*$", re.IGNORECASE)
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_ \-./]{0,79}$", re.ASCII)
_ARTICLE = re.compile(r"^(?:the|a|an)\s+", re.IGNORECASE)


def excerpt(text: str, limit: int = 80) -> str:
    """One printable line of at most `limit` characters, for records and dropped-step reasons."""
    # Invisible characters are shown escaped: 'fridge\u200b', not a 'fridge' that looks valid.
    flat = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in " ".join(str(text)[: 4 * limit].split()))
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def clean_line(line: str) -> str:
    """A line without list markers, step labels and markdown backticks: `1. \\`pick(a)\\`` -> `pick(a)`."""
    text = line.strip().strip("`").strip()
    text = _PREFIX.sub("", text, count=1).strip().strip("`").strip()
    return text


def is_stop_line(text: str) -> bool:
    word = normalise_name(re.sub(r"[^A-Za-z ]+", " ", text))
    return word in _STOP or text.strip().lower() in ("done()", "end()", "<end>", "[end]")


# -- names to ids ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Resolution:
    name: str                 # as written
    id: str | None            # the scene id it maps to; None when it maps to nothing
    how: str                  # "id", "door of", "label", "synonym", "embedding" or "none"
    score: float = 0.0
    reason: str = ""          # why it maps to nothing
    label: str = ""           # the label it matched, or (unmapped) the label it most likely means
    cause: str = ""           # unmapped: "not_a_name", "wrong_kind" (names something else), "missing"
                              # (looked for, not found) or "unknown" (nothing in the view by that name)

    @property
    def text(self) -> str:
        return f"{self.name} -> {self.id} ({self.how} {self.score:.2f})"


def _a(noun: str) -> str:
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


def _key(name: str) -> str:
    return normalise_name(_ARTICLE.sub("", name.strip().strip("'\"`").strip()))


class NameResolver:
    """Maps names onto the ids of one view: per kind, the id, then a label, a synonym, then embeddings.

    Built once per view and reused for every sample, so the labels are embedded once. `synonyms` maps a
    label to other names for it (the catalogue's aliases); the first label to claim a name keeps it.
    """

    def __init__(self, view: WorldView, *, synonyms: Mapping[str, Sequence[str]] | None = None,
                 embedder: TextEmbedder | None = None, threshold: float = DEFAULT_SIMILARITY_THRESHOLD) -> None:
        self.view = view
        self.embedder = embedder
        self.threshold = threshold
        self._aliases: dict[str, str] = {}
        for label, names in (synonyms or {}).items():
            for alias in (label, *names):
                self._aliases.setdefault(normalise_name(alias), normalise_name(label))
        usable = view.usable_objects()
        objects = {o.id: normalise_name(o.label or o.id) for o in usable.values()}
        receptacles = {r.id: normalise_name(r.label or r.id) for r in view.receptacles.values()}
        parts = {r.part: normalise_name(r.part) for r in view.receptacles.values() if r.part}
        openable = {r.id: receptacles[r.id] for r in view.receptacles.values() if r.part}
        self._pools: dict[str, dict[str, str]] = {
            "object": objects, "receptacle": receptacles, "articulated": {**openable, **parts},
            "location": {**receptacles, **parts, **objects}}
        self._missing = {o.id: normalise_name(o.label or o.id) for o in view.objects.values() if o.id not in usable}
        self._missing.update({m: normalise_name(m) for m in view.knowledge.missing if m not in self._missing})
        self._vectors: dict[str, np.ndarray] = {}
        self._cache: dict[tuple[str, str], Resolution] = {}
        self._embed_error = ""

    def resolve(self, name: str, kind: str) -> Resolution:
        """`name` onto an id of `kind` ("object", "receptacle", "articulated", "location")."""
        if kind not in self._pools:
            raise ValueError(f"unknown kind {kind!r}; known: {', '.join(self._pools)}")
        cached = self._cache.get((name, kind))
        if cached is None:
            cached = self._cache[(name, kind)] = self._resolve(name, kind)
        return cached

    def canonical_label(self, name: str) -> str:
        """The label a name most likely means: its synonym's label, else the name without an `_3` suffix."""
        key = _key(re.sub(r"[_ ]\d+$", "", name.strip()))
        return self._aliases.get(key, key)

    def _resolve(self, name: str, kind: str) -> Resolution:
        pool = self._pools[kind]
        written = name.strip().strip("'\"`").strip()
        if written in pool:
            return Resolution(name, written, "id", 1.0, label=pool[written])
        if not _NAME.match(written):
            return Resolution(name, None, "none", reason=f"'{excerpt(written, 40)}' is not a name", cause="not_a_name")
        key = _key(written)
        owner = self.view.part_owner(written) if kind == "receptacle" else None
        if owner is not None:  # "fridge_door" where a receptacle is meant: the fridge
            return Resolution(name, owner, "door of", 1.0, label=pool[owner])
        by_key = {normalise_name(i): i for i in sorted(pool, reverse=True)}  # the smallest id wins a tie
        if key in by_key:
            return Resolution(name, by_key[key], "id", 1.0, label=pool[by_key[key]])
        found = self._first_with_label(pool, key)
        if found:
            return Resolution(name, found, "label", 1.0, label=key)
        alias = self._aliases.get(key)
        if alias is not None:
            found = self._first_with_label(pool, alias)
            if found:
                return Resolution(name, found, "synonym", 1.0, label=alias)
        embedded = self._embedding(pool, key) if self.embedder is not None else None
        if embedded is not None and embedded.id is not None:
            return Resolution(name, embedded.id, "embedding", embedded.score, label=embedded.label)
        cause, reason = self._why_not(written, key, kind, alias, embedded)
        return Resolution(name, None, "none", embedded.score if embedded else 0.0, reason, label=alias or key,
                          cause=cause)

    @staticmethod
    def _first_with_label(pool: Mapping[str, str], label: str) -> str | None:
        return next((i for i in sorted(pool) if pool[i] == label), None)

    def _embedding(self, pool: Mapping[str, str], key: str) -> Resolution | None:
        labels = sorted(set(pool.values()))
        if not labels or self._embed_error:
            return None
        try:
            missing = [t for t in (*labels, key) if t not in self._vectors]
            if missing:
                self._vectors.update(zip(missing, np.asarray(self.embedder.embed(missing), dtype=float)))
        except DetectorError as err:
            # The embedder cannot load: names still map by id, label and synonym; say why once per resolver.
            self._embed_error = str(err)
            return None
        scores = np.array([float(self._vectors[label] @ self._vectors[key]) for label in labels])
        best = int(np.argmax(scores))
        score, label = float(scores[best]), labels[best]
        if score < self.threshold:
            return Resolution(key, None, "none", score, label=label)
        return Resolution(key, self._first_with_label(pool, label), "embedding", score, label=label)

    def _why_not(self, written: str, key: str, kind: str, alias: str | None,
                 embedded: Resolution | None) -> tuple[str, str]:
        what = _KIND_WORDS[kind]
        ids = {normalise_name(i) for i in self._missing} | set(self._missing.values())
        if written in self._missing or key in ids or (alias and alias in ids):
            return "missing", f"'{written}' is missing (looked for, not found)"
        for other in ("object", "receptacle", "articulated"):
            labels = self._pools[other].values()
            if other != kind and (written in self._pools[other] or key in labels or (alias and alias in labels)
                                  or key in {normalise_name(i) for i in self._pools[other]}):
                if kind == "articulated" and other == "receptacle":
                    return "wrong_kind", f"'{written}' has no door or drawer"
                return "wrong_kind", f"'{written}' is {_a(_KIND_WORDS[other])}, not {_a(what)}"
        if alias:
            return "unknown", f"'{written}' means {alias}, and no {alias} is in the scene"
        if embedded is not None:
            return "unknown", (f"no {what} '{written}' in the scene (closest label '{embedded.label}' at "
                               f"similarity {embedded.score:.2f} < {self.threshold:.2f})")
        if self._embed_error:
            return "unknown", (f"no {what} '{written}' in the scene by id, label or synonym (embedder "
                               f"unavailable: {self._embed_error})")
        return "unknown", f"no {what} '{written}' in the scene by id, label or synonym"


# -- plans -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ParsedPlan:
    steps: tuple[SkillCall, ...]
    dropped: tuple[str, ...] = ()   # "line: reason" for each step left out
    mapped: tuple[str, ...] = ()    # "name -> id (how score)" for each name that was not already an id
    truncated: str = ""             # which limit cut the answer short ("" when none did)


def split_arguments(raw: str) -> list[str]:
    return [a.strip() for a in raw.split(",")] if raw.strip() else []


def parse_step(line: str, skills: SkillLibrary, resolver: NameResolver) -> tuple[SkillCall, list[str]]:
    """One cleaned line -> a validated call and the name mappings it used. SkillValidationError says why not."""
    match = _CALL.match(line)
    if not match:
        raise SkillValidationError(FailureCode.INVALID_ARGUMENTS, "not a single call of the form skill(arg, ...)")
    skill_name, raw = match.groups()
    spec = skills.get(skill_name.lower()) if skill_name.lower() in skills else skills.get(skill_name)
    values = split_arguments(raw)
    if len(values) > len(spec.params):
        raise SkillValidationError(FailureCode.INVALID_ARGUMENTS,
                                   f"{spec.signature} takes {len(spec.params)} argument(s), got {len(values)}")
    arguments: dict[str, str] = {}
    positional = iter(spec.params)
    names = {p.name: p for p in spec.params}
    for value in values:
        keyword, _, rest = value.partition("=")
        if rest and keyword.strip() in names:
            param, value = names[keyword.strip()], rest.strip()
        else:
            param = next((p for p in positional if p.name not in arguments), None)
        if param is None or param.name in arguments:
            raise SkillValidationError(FailureCode.INVALID_ARGUMENTS,
                                       f"{spec.signature}: argument '{excerpt(value, 30)}' has no parameter left")
        arguments[param.name] = value
    mapped = []
    for param in spec.params:
        value = arguments.get(param.name)
        kind = KINDS_BY_TYPE.get(param.type)
        if value is None or kind is None:
            continue
        found = resolver.resolve(value, kind)
        if found.id is None:
            raise SkillValidationError(FailureCode.UNKNOWN_OBJECT, f"{param.name}: {found.reason}")
        if found.id != value:
            mapped.append(found.text)
        arguments[param.name] = found.id
    return skills.validate(spec.name, arguments), mapped


class AnswerLines:
    """The cleaned, non-blank lines of a model's answer, within the length limits and up to a 'done'/'end'
    line. Lines cut for a limit are described in `problems`; `truncated` says when the rest was ignored."""

    def __init__(self, text: str, problems: list[str]) -> None:
        self.text = str(text or "")[:MAX_TEXT_CHARS]
        self.problems = problems
        self.truncated = ""

    def __iter__(self):
        seen = 0
        for raw_line in self.text.splitlines():
            if not raw_line.strip():
                continue
            seen += 1
            if seen > MAX_LINES:
                self.truncated = f"longer than {MAX_LINES} lines"
                self.problems.append(f"{excerpt(raw_line)}: {self.truncated}; the rest is ignored")
                return
            if len(raw_line) > MAX_LINE_CHARS:
                self.problems.append(f"{excerpt(raw_line)}: longer than {MAX_LINE_CHARS} characters")
                continue
            line = clean_line(raw_line)
            if is_stop_line(line):
                return
            yield line


def parse_plan_text(text: str, skills: SkillLibrary, view: WorldView, *,
                    synonyms: Mapping[str, Sequence[str]] | None = None, embedder: TextEmbedder | None = None,
                    threshold: float = DEFAULT_SIMILARITY_THRESHOLD,
                    resolver: NameResolver | None = None) -> ParsedPlan:
    """A model's plan text -> validated steps over the view's ids, with what was dropped and mapped.

    Lines are read up to a 'done'/'end' line, the start of a new prompt section after a step, or the limits.
    Prose lines are skipped; lines that look like a call and do not parse are dropped with the reason.
    Pass a `resolver` to share name mappings (and embeddings) across the samples of one view.
    """
    resolver = resolver or NameResolver(view, synonyms=synonyms, embedder=embedder, threshold=threshold)
    steps: list[SkillCall] = []
    dropped: list[str] = []
    mapped: dict[str, None] = {}
    text = str(text or "")
    truncated = f"longer than {MAX_TEXT_CHARS} characters" if len(text) > MAX_TEXT_CHARS else ""
    lines = AnswerLines(text, dropped)
    for line in lines:
        if steps and _SECTION.match(line):
            break  # the model went on to write another example or prompt section
        if not (_CALL.match(line) or _ATTEMPT.search(line)):
            continue  # prose ("Here is the plan:")
        if len(steps) >= MAX_STEPS:
            truncated = f"longer than {MAX_STEPS} steps"
            dropped.append(f"{excerpt(line)}: {truncated}; the rest is ignored")
            break
        try:
            call, names = parse_step(line, skills, resolver)
        except SkillValidationError as err:
            dropped.append(f"{excerpt(line)}: {err.reason}")
            continue
        steps.append(call)
        mapped.update(dict.fromkeys(names))
    return ParsedPlan(tuple(steps), tuple(dropped), tuple(mapped), lines.truncated or truncated)
