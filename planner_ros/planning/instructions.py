"""The offline instruction parser: household instructions to goal conditions, without a language model.

It handles the instruction forms of the task suite and their paraphrases: objects moved to a receptacle
("put the apple in the fridge", "bring the mug from the shelf to the table", "the cup to the sink, the
yogurt to the counter", "put two mugs on the table", "... with a cup"), pronouns for the objects or
receptacle just named ("put it on the table", "close it") and doors or drawers left closed or open
("close the fridge", "the fridge closed again", "open the drawer"). Anything else raises InstructionError
saying that an LLM backend is needed: guessing a goal is worse than refusing.

Parsing gives a GoalSpec over labels; `bind` turns it into goal conditions over the scene graph's ids
and names what the graph does not hold yet (to search for).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from planner_ros.names import normalise_name
from planner_ros.planning.conditions import Condition
from planner_ros.planning.executive import GoalResult
from planner_ros.planning.world import WorldView

__all__ = ["Binding", "GoalSpec", "InstructionError", "Mention", "ParserGoalWriter", "bind", "parse_instruction",
           "RECEPTACLE_SYNONYMS"]

# Words people use for the kitchen's receptacles (the semantic map's ids and labels match themselves).
RECEPTACLE_SYNONYMS = {
    "fridge": ["refrigerator", "fridge door", "icebox"],
    "bin": ["trash", "trash can", "garbage", "garbage can", "waste bin", "rubbish bin", "dustbin"],
    "cabinet": ["cupboard", "cabinet door"],
    "counter": ["countertop", "worktop", "kitchen counter"],
    "table": ["dining table", "kitchen table"],
    "sink": ["basin", "kitchen sink"],
    "shelf": ["shelves", "bookshelf"],
    "drawer": ["kitchen drawer"],
}
_DEST = {"in", "into", "inside", "to", "on", "onto", "at"}
_SOURCE = {"from", "off", "of", "out"}
_VERBS = {"put", "place", "move", "bring", "take", "get", "fetch", "throw", "store", "leave", "set", "clear",
          "close", "shut", "open", "carry", "drop", "return", "keep"}
_CLOSE = {"close", "closed", "shut"}
_OPEN = {"open", "opened"}
_PRONOUN_OBJECTS = {"it", "them", "both"}
_COUNTS = {"a": 1, "an": 1, "one": 1, "the": 1, "two": 2, "three": 3, "both": 2}


class InstructionError(ValueError):
    """The offline parser cannot turn this instruction into goal conditions."""

    def __init__(self, instruction: str, why: str) -> None:
        super().__init__(f"cannot parse {instruction!r} without a language model: {why}. Supported forms: 'put "
                         "the <object> in/on the <receptacle>', 'bring/move/take the <object> from <place> to "
                         "<place>', 'close/open the <receptacle>'; for anything else configure an LLM backend "
                         "(planner parameter llm.backend)")
        self.instruction = instruction
        self.why = why


@dataclass(frozen=True)
class Mention:
    label: str
    count: int = 1
    source: str = ""           # receptacle it should be taken from, when said


@dataclass(frozen=True)
class GoalSpec:
    placements: tuple[tuple[Mention, str], ...]      # (objects, destination receptacle)
    states: tuple[tuple[str, str], ...] = ()          # (receptacle, "open" | "closed")


@dataclass(frozen=True)
class Binding:
    goal: tuple[Condition, ...]
    unresolved: tuple[Mention, ...]                   # mentions the graph cannot satisfy yet (search for them)
    chosen: Mapping[str, str]                         # object id -> why it was picked


def _phrases(table: Mapping[str, Iterable[str]], plural: bool) -> dict[tuple[str, ...], str]:
    out: dict[tuple[str, ...], str] = {}
    for key, names in table.items():
        for name in (key, *names):
            words = tuple(normalise_name(name).split())
            if not words:
                continue
            out.setdefault(words, key)
            if plural:
                last = words[-1]
                for form in (last + "s", last + "es", last[:-1] + "ies" if last.endswith("y") else last + "s"):
                    out.setdefault(words[:-1] + (form,), key)
    return out


def _tokens(instruction: str, objects: dict, receptacles: dict) -> list[list[tuple[str, str]]]:
    """Clauses of (kind, value) tokens: ("obj", label) ("rec", id) ("word", w) by longest phrase match."""
    text = instruction.lower().replace("-", ",").replace(";", ",")
    text = re.sub(r"[^a-z0-9, ]+", " ", text)
    clauses: list[list[tuple[str, str]]] = []
    for part in re.split(r",|\bthen\b", text):
        words = part.split()
        tokens: list[tuple[str, str]] = []
        i = 0
        while i < len(words):
            for size in range(min(4, len(words) - i), 0, -1):
                key = tuple(words[i:i + size])
                if key in receptacles:
                    tokens.append(("rec", receptacles[key]))
                    break
                if key in objects:
                    tokens.append(("obj", objects[key]))
                    break
            else:
                size = 1
                tokens.append(("word", words[i]))
            i += size
        # "... and put it ...": an "and" before a verb starts a new clause
        start = 0
        for j, (kind, value) in enumerate(tokens):
            if (kind, value) == ("word", "and") and j + 1 < len(tokens) and tokens[j + 1][0] == "word" \
                    and tokens[j + 1][1] in _VERBS:
                clauses.append(tokens[start:j])
                start = j + 1
        clauses.append(tokens[start:])
    return [c for c in clauses if c]


def parse_instruction(instruction: str, object_names: Mapping[str, Sequence[str]],
                      receptacle_names: Mapping[str, Sequence[str]]) -> GoalSpec:
    """object_names: label -> synonyms; receptacle_names: receptacle id -> names (ids and labels included)."""
    objects = _phrases(object_names, plural=True)
    receptacles = _phrases({**{r: () for r in receptacle_names},
                            **{r: [*receptacle_names[r], *RECEPTACLE_SYNONYMS.get(r, ())] for r in receptacle_names}},
                           plural=False)
    placements: list[tuple[Mention, str]] = []
    states: list[tuple[str, str]] = []
    pending: list[Mention] = []          # objects named without a destination yet
    last_objects: list[Mention] = []
    last_receptacle = ""
    default_source = ""
    for clause in _tokens(instruction, objects, receptacles):
        mentions: list[Mention] = []
        destination = ""
        source = ""
        state_verb = ""
        prev_word = ""
        count = 1
        for k, (kind, value) in enumerate(clause):
            if kind == "word":
                if value in _CLOSE or value in _OPEN:
                    state_verb = "closed" if value in _CLOSE else "open"
                    if k > 0 and clause[k - 1][0] == "rec" and not any(t == "obj" for t, _ in clause[k:]):
                        states.append((clause[k - 1][1], state_verb))  # "the fridge closed again"
                        state_verb = "done"
                elif value in _PRONOUN_OBJECTS and state_verb not in ("closed", "open"):
                    mentions.extend(pending or last_objects)
                    pending = []
                elif value in ("it",) and state_verb in ("closed", "open") and last_receptacle:
                    states.append((last_receptacle, state_verb))
                    state_verb = "done"
                if value in _COUNTS:
                    count = _COUNTS[value]
                if value != "the" or prev_word not in _COUNTS:
                    prev_word = value
                continue
            if kind == "obj":
                mentions.append(Mention(value, count))
                count = 1
                prev_word = ""
                continue
            # a receptacle: its role follows from the word before it (and the verb of the clause)
            last_receptacle = value
            if state_verb in ("closed", "open") and not mentions:
                states.append((value, state_verb))
                state_verb = "done"
            elif prev_word in _SOURCE or (prev_word == "the" and k >= 2 and clause[k - 2][1] in _SOURCE):
                source = value
            elif prev_word in _DEST or (prev_word in ("the", "away", "back") and k >= 2
                                        and clause[k - 2][1] in _DEST | {"away", "back"}) \
                    or (k >= 2 and clause[k - 2][1] in _DEST):
                if destination and mentions and clause[k - 1] != ("word", "to"):
                    source = source or destination  # "the soda can on the table in the bin"
                destination = value
            elif prev_word in ("set",) or (k >= 2 and clause[k - 2][1] == "set"):
                destination = value
            prev_word = ""
        if not mentions and not destination and source == "" and clause[0] == ("word", "clear"):
            # "clear the table - the cup to the sink, ...": the table is where the objects come from
            default_source = next((v for kind, v in clause if kind == "rec"), default_source)
        source = source or default_source
        if source:
            mentions = [Mention(m.label, m.count, m.source or source) for m in mentions]
        if mentions and destination:
            placements += [(m, destination) for m in pending + mentions]
            last_objects, pending = pending + mentions, []
        elif destination and pending:
            placements += [(m, destination) for m in pending]
            last_objects, pending = pending, []
        elif mentions:
            pending = pending + mentions
            last_objects = mentions
    if pending:
        raise InstructionError(instruction, f"no destination for {', '.join(m.label for m in pending)}")
    if not placements and not states:
        raise InstructionError(instruction, "no object with a destination and no door or drawer to open or close")
    return GoalSpec(tuple(placements), tuple(dict.fromkeys(states)))


def bind(spec: GoalSpec, view: WorldView) -> Binding:
    """Goal conditions over the view's ids: for each mention, the instances with its label, preferring
    ones at the named source, then ones not already at the destination, then by id."""
    taken: set[str] = set()
    goal: list[Condition] = []
    unresolved: list[Mention] = []
    chosen: dict[str, str] = {}
    usable = view.usable_objects()
    for mention, dest in spec.placements:
        rec = view.receptacles.get(dest)
        predicate = "in" if rec is not None and rec.container else "on"
        candidates = [o for o in usable.values() if normalise_name(o.label) == normalise_name(mention.label)
                      and o.id not in taken]
        candidates.sort(key=lambda o: (bool(mention.source) and o.place != mention.source,
                                       o.place == dest and o.relation == predicate, o.id))
        picked = candidates[: mention.count]
        for o in picked:
            taken.add(o.id)
            goal.append(Condition(predicate, (o.id, dest)))
            chosen[o.id] = f"{mention.label}" + (f" from {mention.source}" if mention.source else "")
        if len(picked) < mention.count:
            unresolved.append(Mention(mention.label, mention.count - len(picked), mention.source))
    for receptacle, state in spec.states:
        rec = view.receptacles.get(receptacle)
        goal.append(Condition(state, (rec.part if rec is not None and rec.part else receptacle,)))
    return Binding(tuple(goal), tuple(unresolved), chosen)


class ParserGoalWriter:
    """GoalWriter without a language model: parse_instruction, then bind to the current view."""

    name = "parser"

    def __init__(self, object_names: Mapping[str, Sequence[str]]) -> None:
        self.object_names = dict(object_names)

    def goal(self, instruction: str, view: WorldView) -> GoalResult:
        names = {**{o.label: () for o in view.objects.values()}, **self.object_names}
        receptacles = {r.id: [r.label] for r in view.receptacles.values()}
        try:
            spec = parse_instruction(instruction, names, receptacles)
        except InstructionError as err:
            return GoalResult((), error=str(err))
        binding = bind(spec, view)
        return GoalResult(binding.goal, tuple(dict.fromkeys(m.label for m in binding.unresolved)))
