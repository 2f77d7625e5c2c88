"""Prompt templates as files, and the scene as compact text for them.

Templates live in config/prompts/<name>.txt so prompts can be changed and compared without touching code.
A template is a Python str.format string; a block of '#' lines at its top documents its placeholders and is
stripped on loading. Loading checks the placeholders at start-up, so a template that lacks one the caller
fills (or uses one it does not) fails when the planner is built, not in the middle of a task.
"""
from __future__ import annotations

import re
import string
from collections.abc import Iterable, Sequence
from pathlib import Path

from planner_ros.planning.world import ObjectStatus, WorldView
from planner_ros.paths import config_dir

__all__ = ["TEMPLATE_FIELDS", "TemplateError", "documented_fields", "load_template", "scene_text", "template_path"]

# What the code fills in each named template; every one must appear in the template, no other may.
TEMPLATE_FIELDS: dict[str, tuple[str, ...]] = {
    "plan_sampling": ("skills", "scene", "instruction", "goal", "done", "errors"),
    "goal_writing": ("scene", "instruction", "errors"),
    "decide_step": ("instruction", "scene", "done", "errors", "options"),
    "verify_question": ("cameras", "question"),
    "diagnose_failure": ("instruction", "step", "report", "unmet", "causes", "cameras"),
}

_DOC_FIELD = re.compile(r"^#\s*\{([A-Za-z_][A-Za-z0-9_]*)\}")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class TemplateError(ValueError):
    """A prompt template is missing or malformed; the message names the file."""


def template_path(name_or_path: str | Path) -> Path:
    """A bare name ("plan_sampling") is config/prompts/<name>.txt; anything with a suffix or a folder is a path."""
    if isinstance(name_or_path, Path) or "/" in name_or_path or name_or_path.endswith(".txt"):
        return Path(name_or_path)
    return config_dir() / "prompts" / f"{name_or_path}.txt"


def _split_header(text: str) -> tuple[list[str], str]:
    lines = text.splitlines(keepends=True)
    k = 0
    while k < len(lines) and lines[k].lstrip().startswith("#"):
        k += 1
    body = "".join(lines[k:]).lstrip("\n")
    return [line.rstrip("\n") for line in lines[:k]], body


def documented_fields(name_or_path: str | Path) -> tuple[str, ...]:
    """The placeholders the template's header documents (lines like `#   {scene}  what it holds`)."""
    path = template_path(name_or_path)
    header, _ = _split_header(_read(path))
    return tuple(dict.fromkeys(m.group(1) for m in map(_DOC_FIELD.match, header) if m))


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        known = sorted(p.stem for p in path.parent.glob("*.txt")) if path.parent.is_dir() else []
        raise TemplateError(f"prompt template {path} does not exist"
                            + (f"; templates there: {', '.join(known)}" if known else "")) from None
    except (OSError, UnicodeDecodeError) as err:
        raise TemplateError(f"cannot read prompt template {path}: {err}") from err


def load_template(name_or_path: str | Path, fields: Iterable[str] | None = None) -> str:
    """The template's text without its '#' header, checked against `fields` (by default the fields the code
    fills for a template of that name, TEMPLATE_FIELDS; none checked for an unknown name)."""
    path = template_path(name_or_path)
    _, body = _split_header(_read(path))
    if not body.strip():
        raise TemplateError(f"prompt template {path} is empty (after its '#' header)")
    used: list[str] = []
    try:
        for _, field, spec, conversion in string.Formatter().parse(body):
            if field is None:
                continue
            if not _IDENTIFIER.match(field) or spec or conversion:
                # Only plain {name}: attribute access, indexing and conversions have no use in a prompt.
                written = field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
                raise TemplateError(f"prompt template {path}: placeholder {{{written}}} is not a plain {{name}}; "
                                    "write {{ and }} for literal braces")
            used.append(field)
    except ValueError as err:
        if isinstance(err, TemplateError):
            raise
        raise TemplateError(f"prompt template {path} is not a valid format string ({err}); write {{{{ and }}}} "
                            "for literal braces") from err
    expected = tuple(fields) if fields is not None else TEMPLATE_FIELDS.get(path.stem)
    if expected is not None:
        missing = [f for f in expected if f not in used]
        unknown = sorted(set(used) - set(expected))
        if missing:
            raise TemplateError(f"prompt template {path} lacks the placeholder(s) "
                                f"{', '.join('{' + f + '}' for f in missing)}; it must use {_braced(expected)}")
        if unknown:
            raise TemplateError(f"prompt template {path} uses {_braced(unknown)}, which the code does not fill; "
                                f"it may use {_braced(expected)}")
    return body


def _braced(names: Iterable[str]) -> str:
    return ", ".join("{" + n + "}" for n in names)


# -- the scene as text -------------------------------------------------------------------------------------
def _named(id_: str, label: str) -> str:
    return id_ if not label or label.replace(" ", "_") == id_ else f"{id_} ({label})"


def scene_text(view: WorldView, names: Sequence[str] | None = None) -> str:
    """Compact, deterministic text of the view for a prompt: where the robot is and what it holds, each
    receptacle (sorted by id) with its door state and what is on or in it, objects off every receptacle,
    missing objects and what execution taught (locked, blocked, notes). With `names` (ids of objects,
    receptacles or doors): only those, the receptacles they lie on or in, and the ids the view lacks."""
    focus = set(names or ())
    usable = view.usable_objects()
    objects = sorted(view.objects.values(), key=lambda o: o.id)
    if focus:
        owners = {view.part_owner(n) for n in focus} - {None}
        shown_objects = [o for o in objects if o.id in focus or o.id == view.holding]
        receptacle_ids = owners | {o.place for o in shown_objects if o.relation in ("on", "in") and o.place}
        absent = sorted(n for n in focus if n not in view.objects and view.part_owner(n) is None)
    else:
        shown_objects = objects
        receptacle_ids = set(view.receptacles)
        absent = []
    absent = [n for n in absent if n not in view.knowledge.missing]
    shown_ids = {o.id for o in shown_objects}

    def object_text(oid: str) -> str:
        o = view.objects[oid]
        note = ", remembered" if o.status is ObjectStatus.REMEMBERED else ""
        return f"{o.id} ({o.label}{note})" if o.label else o.id

    holding = object_text(view.holding) if view.holding in view.objects else (view.holding or "nothing")
    lines = [f"Robot: at {view.robot_at or 'no receptacle'}; holds {holding}."]
    receptacles = [view.receptacles[r] for r in sorted(receptacle_ids) if r in view.receptacles]
    if receptacles:
        lines.append("Receptacles:")
    for rec in receptacles:
        kind = "container" if rec.container else "surface"
        door = f", door {rec.part} {'open' if rec.is_open else 'closed'}" if rec.part else ""
        word = "in" if rec.container else "on"
        inside = [object_text(o.id) for o in objects
                  if o.id in usable and o.id in shown_ids and o.relation in ("on", "in") and o.place == rec.id]
        content = ", ".join(inside) if inside else "nothing"
        lines.append(f"- {_named(rec.id, rec.label)}: {kind}{door}; {word} it: {content}")
    loose = [object_text(o.id) for o in shown_objects if o.id in usable and o.id != view.holding
             and not (o.relation in ("on", "in") and o.place in view.receptacles)]
    if loose:
        lines.append(f"Not on any receptacle: {', '.join(loose)}")
    missing = [object_text(o.id) for o in shown_objects if o.id not in usable]
    missing += sorted(m for m in view.knowledge.missing if m not in view.objects and (not focus or m in focus))
    if missing:
        lines.append(f"Missing (looked for, not found): {', '.join(missing)}")
    if absent:
        lines.append(f"Not in the scene: {', '.join(absent)}")
    knowledge = view.knowledge
    known = [f"{r} does not open (locked or jammed)" for r in sorted(knowledge.locked)]
    known += [f"nothing can be placed on or in {r} (blocked)" for r in sorted(knowledge.blocked)]
    if known:
        lines.append(f"Known: {'; '.join(known)}.")
    lines += [f"Note: {note}" for note in knowledge.notes]
    return "\n".join(lines)
