"""Reading the project's TOML files with errors a user can act on.

Scenarios, sweep designs, sensitivity designs and driver lists are all TOML
checked by pydantic. They share one reader and one way of saying what is
wrong, so every error names the file, the field and what was expected.
"""

from __future__ import annotations

import re
import tomllib
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import ValidationError, ValidationInfo


def read_toml(path: Path, what: str, error: type[Exception]) -> tuple[dict[str, Any], bytes]:
    """The file's tables and its bytes (for hashing); `error` names the file if it is missing or not TOML."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise error(f"{path}: {what} not found") from None
    except IsADirectoryError:
        raise error(f"{path}: expected a {what}, got a folder") from None
    except OSError as err:
        raise error(f"{path}: cannot read the {what}: {err.strerror or err}") from None
    try:
        return tomllib.loads(data.decode("utf-8")), data
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise error(f"{path}: not valid TOML: {err}") from None


# pydantic names the member of a union a value failed (`seeds: int | list[int]` fails as `seeds.int` and as
# `seeds.list[int]`); such a tag is not a field: one line names the field and says what each member wanted
_UNION_TAG = re.compile(r"^(int|float|str|bool|date|datetime|none|[a-z_]+\[.*\])$")


def _union_tags(errors: list[Any]) -> set[tuple[Any, ...]]:
    """The locations ending in a union member's tag: two or more errors for one input under one parent, each
    ending in a type's name."""
    by_parent: dict[tuple[Any, ...], set[Any]] = {}
    for e in errors:
        for i, part in enumerate(e["loc"]):
            if isinstance(part, str) and _UNION_TAG.match(part):
                by_parent.setdefault((*e["loc"][:i], repr(e.get("input"))), set()).add(part)
    return {parent[:-1] for parent, tags in by_parent.items() if len(tags) > 1}


def field_errors(err: ValidationError, prefix: str = "") -> str:
    """One line per invalid field: its dotted name, what was expected and, for a single value, what was given."""
    lines: list[str] = []
    merged: dict[str, int] = {}  # a field's line, for the other members of a union it failed
    errors = err.errors()
    unions = _union_tags(errors)

    def _loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
        return next(
            (loc[: len(u)] + loc[len(u) + 1 :] for u in unions if loc[: len(u)] == u and len(loc) > len(u)), loc
        )

    for e in errors:
        field = key = prefix + ".".join(str(p) for p in _loc(e["loc"]))
        if e["loc"] != _loc(e["loc"]) and key in merged:
            lines[merged[key]] += f"; or {e['msg'].removeprefix('Value error, ')}"
            continue
        got = e.get("input")
        shown = not isinstance(got, dict | list) and e["type"] != "missing"
        message = e["msg"].removeprefix("Value error, ")
        head, sep, rest = message.partition(": ")
        if sep and head and " " not in head and e["type"] == "value_error":
            # a rule of a table about one of its fields ("age_min: expected ...", "routes.X: ..."): name that field
            field, message = ".".join(f for f in (field, head) if f), rest
        if e["loc"] != _loc(e["loc"]):
            merged[key] = len(lines)
        field = field or "(top level)"
        lines.append(f"  field {field}: {message}" + (f" (got {got!r})" if shown else ""))
    return "\n".join(lines)


def _numeric(annotation: Any) -> bool:
    """A number field: `int`, `float`, or a union holding one (`float | None`, `int | list[int]`)."""
    if annotation in (int, float):
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_numeric(a) for a in typing.get_args(annotation))
    return False


def refuse_flags(cls: Any, value: Any, info: ValidationInfo) -> Any:
    """A `mode="before"` validator for every field: true or false where a number is expected is refused (pydantic
    would read them as 1 and 0: `days = true` a one-day run), in the field or in a table of numbers."""
    annotation = cls.model_fields[info.field_name].annotation
    if isinstance(value, bool) and _numeric(annotation):
        raise ValueError("expected a number, not true or false")
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is dict and args and _numeric(args[-1]) and isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, bool):
                raise ValueError(f"{key}: expected a number, got {str(item).lower()}")
    return value
