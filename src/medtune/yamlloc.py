"""Where a value sits in a YAML file, and pydantic errors as `file:line: path: expected ..., found ...`.

Used by every YAML medtune reads (run config, policy, task, eval file). A file is parsed twice:
`yaml.safe_load` for the values and `yaml.compose` for the node tree, whose marks give the line of every key
and list item. Paths are printed the way a reader points at them: `rules[3].action`.
"""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from medtune.errors import ConfigError

Loc = Sequence[str | int]


def parse_yaml(text: str, source: str) -> tuple[Any, yaml.Node | None]:
    """Values and node tree of a YAML document; a syntax error becomes a ConfigError with its line."""
    try:
        raw = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        raise ConfigError(f"{where}: invalid YAML: {getattr(exc, 'problem', None) or exc}") from None
    return raw, root


def dotted(loc: Loc) -> str:
    """('rules', 3, 'detector', 'all_of', 0) -> 'rules[3].detector.all_of[0]'."""
    out = ""
    for part in loc:
        if isinstance(part, int) or (isinstance(part, str) and part.isdigit()):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def line_of(root: yaml.Node | None, loc: Loc) -> int:
    """1-based line of the deepest node on `loc` that exists (a key's line for mappings, an item's for lists).

    String parts that meet a list are skipped: they come from shorthand forms (`phrases: [a, b]` is validated
    as `phrases.terms`), so the list itself is the place to point at.
    """
    node = root
    line = node.start_mark.line + 1 if node is not None else 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in node.value if str(k.value) == str(part)), None)
            if pair is None:
                break
            line, node = pair[0].start_mark.line + 1, pair[1]
        elif isinstance(node, yaml.SequenceNode):
            if isinstance(part, int) or (isinstance(part, str) and part.isdigit()):
                index = int(part)
                if index >= len(node.value):
                    break
                node = node.value[index]
                line = node.start_mark.line + 1
            continue
        elif isinstance(node, yaml.ScalarNode):
            continue  # shorthand scalar (`phrases: "stop taking"`): the scalar is the place
        else:
            break
    return line


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            models = [a for a in members if isinstance(a, type) and issubclass(a, BaseModel)]
            annotation = models[0] if models else members[0]
        else:
            return annotation


def known_keys(model: type[BaseModel], loc: Loc) -> list[str]:
    """Keys (aliases where set) accepted by the mapping at `loc` under `model`; [] when unknown."""
    annotation: Any = model
    for part in loc:
        annotation = _unwrap(annotation)
        origin = get_origin(annotation)
        if isinstance(part, int) or (isinstance(part, str) and part.isdigit()):
            if origin is not list:
                return []
            annotation = get_args(annotation)[0]
            continue
        if origin is dict:
            annotation = get_args(annotation)[1]
            continue
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        field = next(
            (f for name, f in annotation.model_fields.items() if (f.alias or name) == part or name == part),
            None,
        )
        if field is None:
            return []
        annotation = field.annotation
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [f.alias or name for name, f in annotation.model_fields.items()]
    return []


def suggest(word: str, candidates: Sequence[str]) -> str | None:
    """Closest candidate for a misspelt key or value, or None."""
    initials = [c for c in candidates if "_" in c and "".join(w[0] for w in c.split("_")) == word.lower()]
    if initials:
        return initials[0]
    lowered = {c.lower(): c for c in candidates}
    close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[close[0]] if close else None


def _found(value: Any) -> str:
    if isinstance(value, dict):
        return "(a mapping)"
    if isinstance(value, list):
        return "(a list)"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def expected_text(message: str) -> str:
    """pydantic's 'Input should be greater than 0' -> 'a value greater than 0'."""
    message = message.removeprefix("Value error, ").removeprefix("Input should be ")
    if message.startswith(("greater", "less")):
        message = "a value " + message
    return message[:1].lower() + message[1:]


def format_validation_error(
    exc: ValidationError, source: str | Path, root: yaml.Node | None, model: type[BaseModel], what: str
) -> str:
    """Every pydantic problem as one `file:line: path: ...` line, under a header naming their count."""
    problems: list[tuple[int, str]] = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        line = line_of(root, loc)
        where, path = f"{source}:{line}", dotted(loc)
        kind = err["type"]
        if kind == "extra_forbidden":
            known = known_keys(model, loc[:-1])
            close = suggest(str(loc[-1]), known) if known else None
            hint = f"did you mean '{close}'?" if close else f"known keys: {', '.join(sorted(known))}"
            problems.append((line, f"{where}: {path}: unknown key; {hint}"))
        elif kind == "missing":
            problems.append((line, f"{where}: {path}: required key is missing"))
        elif kind == "literal_error":
            choices = re.findall(r"'([^']*)'", str((err.get("ctx") or {}).get("expected", "")))
            found = err.get("input")
            close = suggest(found, choices) if isinstance(found, str) else None
            hint = f"; did you mean '{close}'?" if close else ""
            problems.append(
                (line, f"{where}: {path}: expected one of {', '.join(choices)}, found {_found(found)}{hint}")
            )
        elif kind == "value_error":
            message = err["msg"].removeprefix("Value error, ")
            problems.append((line, f"{where}: {path}: {message}"))
        else:
            expected, found = expected_text(err["msg"]), _found(err.get("input"))
            problems.append((line, f"{where}: {path}: expected {expected}, found {found}"))
    return format_problems(source, [p for _, p in sorted(problems, key=lambda p: p[0])], what)


def format_problems(source: str | Path, problems: list[str], what: str) -> str:
    count = len(problems)
    if count == 1:
        return problems[0]
    return f"{source}: {count} problems in the {what}\n" + "\n".join(f"  {p}" for p in problems)
