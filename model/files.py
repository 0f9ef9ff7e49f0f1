"""Reading the project's TOML files with errors a user can act on.

Scenarios, sweep designs, sensitivity designs and driver lists are all TOML
checked by pydantic. They share one reader and one way of saying what is
wrong, so every error names the file, the field and what was expected.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError


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


def field_errors(err: ValidationError, prefix: str = "") -> str:
    """One line per invalid field: its dotted name, what was expected and, for a single value, what was given."""
    lines = []
    for e in err.errors():
        field = prefix + ".".join(str(p) for p in e["loc"])
        got = e.get("input")
        shown = not isinstance(got, dict | list) and e["type"] != "missing"
        message = e["msg"].removeprefix("Value error, ")
        head, sep, rest = message.partition(": ")
        if sep and head and " " not in head and e["type"] == "value_error":
            # a rule of a table about one of its fields ("age_min: expected ...", "routes.X: ..."): name that field
            field, message = ".".join(f for f in (field, head) if f), rest
        field = field or "(top level)"
        lines.append(f"  field {field}: {message}" + (f" (got {got!r})" if shown else ""))
    return "\n".join(lines)
