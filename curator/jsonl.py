"""Reading JSON lines of objects with errors that name the file and line (a leaf module)."""

from __future__ import annotations

import json
from typing import Any

from curator.errors import CuratorError


def objects(text: str, where: str, error: type[CuratorError]) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line; anything else raises `error("WHERE:LINE: ...")`."""
    out: list[tuple[int, dict[str, Any]]] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise error(f"{where}:{number}: invalid JSON ({err.msg})") from None
        except RecursionError:
            raise error(f"{where}:{number}: invalid JSON (nested too deeply)") from None
        except ValueError:  # more digits than Python converts (sys.int_max_str_digits)
            raise error(f"{where}:{number}: invalid JSON (a number has too many digits)") from None
        if not isinstance(obj, dict):
            raise error(f"{where}:{number}: expected a JSON object")
        out.append((number, obj))
    return out
