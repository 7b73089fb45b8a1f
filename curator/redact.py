"""Make text from servers and the environment safe to show: secrets masked, control characters gone.

`redact` is applied to every error text that comes from a server (error bodies, echoed headers),
from the environment (`ANTHROPIC_BASE_URL`) or from the HTTP stack (exception text) before it is
printed, notified, logged or stored in a report. It masks:

- Anthropic API keys (`sk-ant-...`), and the configured key itself (`ANTHROPIC_API_KEY`,
  `ANTHROPIC_AUTH_TOKEN`) wherever it appears, whatever its shape;
- the value of an `x-api-key`, `Authorization`, `Proxy-Authorization` or `api_key` field, and any
  `Bearer`/`Basic` credential;
- credentials in a URL (`scheme://user:pass@host` becomes `scheme://***@host`);

and removes control characters (ESC and the rest of C0 and C1, DEL): a server's text cannot move
the cursor or recolour the terminal. Newlines and tabs are kept only for multi-line output;
otherwise the text is folded onto one line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

MASK = "***"

SECRET_ENV_VARS = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")
"""Variables holding a credential: their values are masked wherever they appear."""

_ESCAPE_SEQUENCE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROL_ONE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_API_KEY = re.compile(r"sk-ant-[A-Za-z0-9_\-]*")
_FIELD = re.compile(
    r"(?i)(\b(?:x-api-key|proxy-authorization|authorization|api[-_]?key|auth[-_]?token)['\"]?\s*[:=]\s*['\"]?)"
    r"(?:(?:bearer|basic)\s+)?[^\s'\",;}\]]+"
)
_SCHEME = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]+")
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/\s@?#]*@")


def configured_secrets() -> list[str]:
    """The credential values set in the environment now (empty ones left out)."""
    return [v for v in (os.environ.get(name, "").strip() for name in SECRET_ENV_VARS) if v]


def strip_controls(text: str, *, multiline: bool = False) -> str:
    """`text` without escape sequences and control characters; with `multiline`, newlines and tabs stay."""
    text = _ESCAPE_SEQUENCE.sub("", text)
    if multiline:
        return _CONTROL.sub("", text.replace("\r\n", "\n"))
    return _CONTROL_ONE_LINE.sub(" ", text)


def redact(text: object, *, multiline: bool = False, secrets: Iterable[str] = ()) -> str:
    """`text` (anything, as `str`) with secrets masked and control characters removed (see module)."""
    out = strip_controls(str(text), multiline=multiline)
    for secret in sorted({*configured_secrets(), *(s for s in secrets if s)}, key=len, reverse=True):
        if len(secret) >= 4:
            out = out.replace(secret, MASK)
    out = _API_KEY.sub(MASK, out)
    out = _FIELD.sub(lambda m: m.group(1) + MASK, out)
    out = _SCHEME.sub(lambda m: f"{m.group(1)} {MASK}", out)
    out = _URL_CREDENTIALS.sub(lambda m: m.group(1) + MASK + "@", out)
    if not multiline:
        out = " ".join(out.split())
    return out
