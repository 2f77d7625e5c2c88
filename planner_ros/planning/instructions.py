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

__all__ = ["ALL", "Binding", "GoalSpec", "InstructionError", "Mention", "ParserGoalWriter", "bind", "parse_instruction",
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
_COUNTS = {"a": 1, "an": 1, "one": 1, "the": 1, "two": 2, "three": 3, "four": 4, "both": 2}
_ARTICLES = {"the", "a", "an"}
MAX_INSTRUCTION_CHARS = 1000
ALL = 0                          # Mention.count for "the apples": every one there is
# Words the parser cannot honour; it refuses rather than drop them ("don't put the apple in the fridge").
_NEGATIONS = {"not", "don", "dont", "never", "except", "instead", "without", "nor", "unless", "no"}
_RELATIONS = {"next", "near", "beside", "behind", "under", "underneath", "above", "below", "left", "right",
              "between", "around", "inside_of"}


class InstructionError(ValueError):
    """The offline parser cannot turn this instruction into goal conditions."""

    def __init__(self, instruction: str, why: str) -> None:
        shown = instruction if len(instruction) <= 120 else instruction[:120] + "..."
        super().__init__(f"cannot parse {shown!r} without a language model: {why}. Supported forms: 'put "
                         "the <object> in/on the <receptacle>', 'bring/move/take the <object> from <place> to "
                         "<place>', 'close/open the <receptacle>'; for anything else configure an LLM backend "
                         "(planner parameter llm.backend)")
        self.instruction = instruction
        self.why = why


@dataclass(frozen=True)
class Mention:
    label: str
    count: int = 1             # ALL (0): every instance ("the apples")
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


def _phrases(table: Mapping[str, Iterable[str]], plural: bool) -> dict[tuple[str, ...], tuple[str, bool]]:
    """Word tuples -> (key, is_plural) for every name of every key (and, for objects, its plural forms)."""
    out: dict[tuple[str, ...], tuple[str, bool]] = {}
    for key, names in table.items():
        for name in (key, *names):
            words = tuple(normalise_name(name).split())
            if not words:
                continue
            out.setdefault(words, (key, False))
            if plural:
                last = words[-1]
                for form in (last + "s", last + "es", last[:-1] + "ies" if last.endswith("y") else last + "s"):
                    out.setdefault(words[:-1] + (form,), (key, True))
    return out


def _tokens(instruction: str, objects: dict, receptacles: dict) -> list[list[tuple[str, str]]]:
    """Clauses of (kind, value) tokens by longest phrase match: ("obj", label), ("objs", label) for a plural,
    ("rec", id), ("word", w)."""
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
                    tokens.append(("rec", receptacles[key][0]))
                    break
                if key in objects:
                    label, many = objects[key]
                    tokens.append(("objs" if many else "obj", label))
                    break
            else:
                size = 1
                tokens.append(("word", words[i]))
            i += size
        # An "and" starts a new clause before a verb ("... and put it ...") and before new objects once this
        # clause has its destination ("put the apple in the fridge and the pear on the counter").
        start = 0
        for j, (kind, value) in enumerate(tokens):
            if (kind, value) != ("word", "and") or j + 1 >= len(tokens):
                continue
            following = [t for t in tokens[j + 1:] if t[1] not in _ARTICLES]
            verb_next = tokens[j + 1][0] == "word" and tokens[j + 1][1] in _VERBS
            objects_next = bool(following) and following[0][0] in ("obj", "objs")
            if verb_next or (objects_next and _has_destination(tokens[start:j])):
                clauses.append(tokens[start:j])
                start = j + 1
        clauses.append(tokens[start:])
    return [c for c in clauses if c]


def _has_destination(tokens: list[tuple[str, str]]) -> bool:
    words = [t for t in tokens if t[1] not in _ARTICLES]
    return any(t[0] == "rec" and i > 0 and words[i - 1][0] == "word" and words[i - 1][1] in _DEST
               for i, t in enumerate(words))


def parse_instruction(instruction: str, object_names: Mapping[str, Sequence[str]],
                      receptacle_names: Mapping[str, Sequence[str]],
                      openable: Iterable[str] | None = None) -> GoalSpec:
    """object_names: label -> synonyms; receptacle_names: receptacle id -> names (ids and labels included);
    openable: the receptacles with a door or drawer (None: any may be opened or closed)."""
    if len(instruction) > MAX_INSTRUCTION_CHARS:
        raise InstructionError(instruction, f"longer than {MAX_INSTRUCTION_CHARS} characters")
    objects = _phrases(object_names, plural=True)
    receptacles = _phrases({r: [*receptacle_names[r], *RECEPTACLE_SYNONYMS.get(r, ())] for r in receptacle_names},
                           plural=False)
    can_open = None if openable is None else set(openable)
    clauses = _tokens(instruction, objects, receptacles)
    words = {value for clause in clauses for kind, value in clause if kind == "word"}
    if words & _NEGATIONS:
        raise InstructionError(instruction, f"it says {sorted(words & _NEGATIONS)[0]!r}: negations and exceptions")
    if words & _RELATIONS:
        raise InstructionError(instruction, f"it says {sorted(words & _RELATIONS)[0]!r}: only 'in' and 'on' "
                                            "are known places to put things")
    placements: list[tuple[Mention, str]] = []
    states: list[tuple[str, str]] = []
    pending: list[Mention] = []          # objects named without a destination yet
    last_objects: list[Mention] = []
    last_openable = ""
    default_source = ""

    def set_state(receptacle: str, state: str) -> None:
        if can_open is not None and receptacle not in can_open:
            raise InstructionError(instruction, f"'{receptacle}' has no door or drawer to {state.rstrip('ed')}")
        states.append((receptacle, state))

    for clause in clauses:
        mentions: list[Mention] = []
        destination = ""
        source = ""
        state_verb = ""
        prev_word = ""
        count: int | None = None
        for k, (kind, value) in enumerate(clause):
            if kind == "word":
                if value in _CLOSE or value in _OPEN:
                    state_verb = "closed" if value in _CLOSE else "open"
                    if k > 0 and clause[k - 1][0] == "rec" and not any(t in ("obj", "objs") for t, _ in clause[k:]):
                        set_state(clause[k - 1][1], state_verb)  # "the fridge closed again"
                        state_verb = "done"
                elif value in _PRONOUN_OBJECTS and state_verb not in ("closed", "open"):
                    mentions.extend(pending or last_objects)
                    pending = []
                elif value == "it" and state_verb in ("closed", "open"):
                    if not last_openable:
                        raise InstructionError(instruction, "nothing named before 'it' has a door or drawer")
                    set_state(last_openable, state_verb)
                    state_verb = "done"
                if value in _COUNTS and (count is None or value != "the"):
                    count = _COUNTS[value] if value != "the" else None
                if value != "the" or prev_word not in _COUNTS:
                    prev_word = value
                continue
            if kind in ("obj", "objs"):
                # "the apples" means every apple; "two mugs", "a plate" say how many
                mentions.append(Mention(value, ALL if kind == "objs" and count is None else (count or 1)))
                count = None
                prev_word = ""
                continue
            # a receptacle: its role follows from the word before it (and the verb of the clause)
            if can_open is None or value in can_open:
                last_openable = value
            if state_verb in ("closed", "open") and not mentions:
                set_state(value, state_verb)
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


def bind(spec: GoalSpec, view: WorldView, *, strict_source: bool = True) -> Binding:
    """Goal conditions over the view's ids. A mention with a source ("the plate from the cabinet") binds only
    instances there (with strict_source; after the source was searched, instances elsewhere too: the object
    may have been moved); otherwise instances not already at the destination come first, then by id. What
    the view cannot satisfy comes back unresolved, with the sources to look at first."""
    taken: set[str] = set()
    goal: list[Condition] = []
    unresolved: list[Mention] = []
    chosen: dict[str, str] = {}
    usable = view.usable_objects()
    for mention, dest in spec.placements:
        rec = view.receptacles.get(dest)
        predicate = "in" if rec is not None and rec.container else "on"
        candidates = [o for o in usable.values() if normalise_name(o.label) == normalise_name(mention.label)
                      and o.id not in taken and (not (strict_source and mention.source) or o.place == mention.source)]
        candidates.sort(key=lambda o: (bool(mention.source) and o.place != mention.source,
                                       o.place == dest and o.relation == predicate, o.id))
        picked = candidates if mention.count == ALL else candidates[: mention.count]
        for o in picked:
            taken.add(o.id)
            goal.append(Condition(predicate, (o.id, dest)))
            chosen[o.id] = f"{mention.label}" + (f" from {mention.source}" if mention.source else "")
        wanted = max(mention.count, 1)
        if len(picked) < wanted:
            unresolved.append(Mention(mention.label, wanted - len(picked), mention.source))
    for receptacle, state in spec.states:
        rec = view.receptacles.get(receptacle)
        goal.append(Condition(state, (rec.part if rec is not None and rec.part else receptacle,)))
    return Binding(tuple(goal), tuple(unresolved), chosen)


class ParserGoalWriter:
    """GoalWriter without a language model: parse_instruction, then bind to the current view."""

    name = "parser"

    def __init__(self, object_names: Mapping[str, Sequence[str]]) -> None:
        self.object_names = dict(object_names)

    def goal(self, instruction: str, view: WorldView, *, searched: bool = False) -> GoalResult:
        """searched: the places the task names were looked at; objects found elsewhere may stand in."""
        names = {**{o.label: () for o in view.objects.values()}, **self.object_names}
        receptacles = {r.id: [r.label] for r in view.receptacles.values()}
        openable = [r.id for r in view.receptacles.values() if r.part]
        try:
            spec = parse_instruction(instruction, names, receptacles, openable)
        except InstructionError as err:
            return GoalResult((), error=str(err))
        if searched:
            # An object found away from the place the task named may stand in (it was moved), but only if
            # that place was seen into: a container still closed (locked, jammed) may hold the very object.
            closed = {r.id for r in view.receptacles.values() if not r.is_open}
            unseen = [m for m in bind(spec, view).unresolved if m.source in closed]
            if unseen:
                where = ", ".join(sorted({m.source for m in unseen}))
                return GoalResult((), tuple(dict.fromkeys(m.label for m in unseen)),
                                  error=f"could not look into {where} (closed; locked or jammed?), where the task "
                                        f"says the {', '.join(dict.fromkeys(m.label for m in unseen))} is")
        binding = bind(spec, view, strict_source=not searched)
        return GoalResult(binding.goal, tuple(dict.fromkeys(m.label for m in binding.unresolved)),
                          look_first=tuple(dict.fromkeys(m.source for m in binding.unresolved if m.source)))
