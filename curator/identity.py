"""Who is acting: user names are stored as typed and compared as identities.

Two names are the same person when their `identity_key`s are equal. The key is:

1. NFKC (full-width and compatibility forms fold: `ａｎａ` is `ana`);
2. format characters removed (zero-width spaces and joiners, soft hyphens), whitespace runs
   folded to one space, leading and trailing whitespace trimmed;
3. case-folded (`Ana`, `ANA` and `ana` are one person), look-alike capitals mapped first;
4. mapped through a confusables skeleton: Cyrillic and Greek letters that look like Latin ones
   become those Latin letters (Cyrillic `а` is `a`, Greek `ο` is `o`), as do a few Latin
   look-alikes (dotless `ı`, `ɑ`).

The skeleton is deliberately eager: a name written wholly in Cyrillic that looks like a Latin one
(`ана`) is the same identity as that Latin name. For review rules that errs on the safe side:
at worst a second reviewer is needed.

Where a name is set (`--user`, `CURATOR_USER`, the config file, the OS login), `check_user_name`
refuses, with one line, a name that is empty after trimming, holds control or format characters,
or mixes Latin with Cyrillic, Greek, Armenian or Cherokee letters (or Cyrillic with Greek), the
scripts whose letters pass for one another. Names already stored (an imported `author`) are not
refused, but they are compared through the key, so mixing scripts gains nothing there either.

Every identity comparison goes through `same_user` (review rules, the store's review guard, the
review queue, coverage's reviewer counts).
"""

from __future__ import annotations

import unicodedata

from curator.errors import UsageError

_CONFUSABLES = {
    # Cyrillic (lower case, and the lower case of capitals that look Latin: В Н К М Т)
    "а": "a",
    "в": "b",
    "ь": "b",
    "с": "c",
    "ԁ": "d",
    "е": "e",
    "ё": "e",
    "һ": "h",
    "н": "h",
    "і": "i",
    "ї": "i",
    "ј": "j",
    "к": "k",
    "ӏ": "l",
    "м": "m",
    "п": "n",
    "о": "o",
    "р": "p",
    "ԛ": "q",
    "г": "r",
    "ѕ": "s",
    "т": "t",
    "у": "y",
    "ў": "y",
    "ԝ": "w",
    "х": "x",
    # Greek
    "α": "a",
    "β": "b",
    "ε": "e",
    "η": "n",
    "ι": "i",
    "κ": "k",
    "ν": "v",
    "ο": "o",
    "ρ": "p",
    "τ": "t",
    "υ": "u",
    "χ": "x",
    "ω": "w",
    "μ": "u",
    "ϲ": "c",
    # Latin look-alikes
    "ı": "i",
    "ɑ": "a",
    "ɡ": "g",
    "ʏ": "y",
}
_CONFUSABLE_CAPITALS = {
    # capitals that look Latin: mapped before case folding, which would turn Greek Ν into ν (v)
    **dict.fromkeys("АΑ", "a"),
    **dict.fromkeys("ВΒ", "b"),
    **dict.fromkeys("СϹ", "c"),
    **dict.fromkeys("ЕЁΕ", "e"),
    **dict.fromkeys("НΗ", "h"),
    **dict.fromkeys("ІЇΙ", "i"),
    **dict.fromkeys("Ј", "j"),
    **dict.fromkeys("КΚ", "k"),
    **dict.fromkeys("МΜ", "m"),
    **dict.fromkeys("Ν", "n"),
    **dict.fromkeys("ОΟ", "o"),
    **dict.fromkeys("РΡ", "p"),
    **dict.fromkeys("Ѕ", "s"),
    **dict.fromkeys("ТΤ", "t"),
    **dict.fromkeys("ХΧ", "x"),
    **dict.fromkeys("УΥ", "y"),
    **dict.fromkeys("Ζ", "z"),
}
_CAPITALS = str.maketrans(_CONFUSABLE_CAPITALS)
_SKELETON = str.maketrans(_CONFUSABLES)

_CONFUSABLE_SCRIPTS = frozenset({"LATIN", "CYRILLIC", "GREEK", "ARMENIAN", "CHEROKEE"})


def _tidy(name: str) -> str:
    """NFKC, format characters removed, whitespace folded and trimmed."""
    text = unicodedata.normalize("NFKC", name)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return " ".join(text.split())


def identity_key(name: str | None) -> str:
    """What a name is compared by (see the module): NFKC, trimmed, case-folded, skeleton-mapped."""
    if name is None:
        return ""
    key = _tidy(name).translate(_CAPITALS).casefold().translate(_SKELETON)
    return unicodedata.normalize("NFKC", key)


def same_user(a: str | None, b: str | None) -> bool:
    """True when `a` and `b` name the same person; an empty or missing name matches nobody."""
    ka, kb = identity_key(a), identity_key(b)
    return bool(ka) and ka == kb


def _scripts(name: str) -> set[str]:
    scripts = set()
    for ch in name:
        if unicodedata.category(ch).startswith("L"):
            script = unicodedata.name(ch, "").split(" ")[0]
            if script in _CONFUSABLE_SCRIPTS:
                scripts.add(script)
    return scripts


def name_problem(name: str) -> str | None:
    """Why `name` cannot be a user name (see `check_user_name`), or None when it can."""
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") or ch in "\u2028\u2029" for ch in name):
        return "contains a control character"
    tidy = _tidy(name)
    if not tidy:
        return "is empty"
    scripts = _scripts(unicodedata.normalize("NFKC", name))
    if len(scripts) > 1 and ("LATIN" in scripts or {"CYRILLIC", "GREEK"} <= scripts):
        mixed = " with ".join(s.title() for s in sorted(scripts, key=lambda s: (s != "LATIN", s)))
        return f"mixes {mixed} letters (look-alike letters could pass for another user); type it in one script"
    return None


def check_user_name(name: str, *, where: str = "user name") -> str:
    """`name` unchanged (names are stored as typed) when it is a usable user name, else a one-line `UsageError`."""
    problem = name_problem(name)
    if problem:
        raise UsageError(f"{where} {name_for_message(name)} {problem}")
    return name


def name_for_message(name: str) -> str:
    """A name quoted safely for one line of output (control characters escaped, long names cut)."""
    shown = name if len(name) <= 60 else name[:59] + "…"
    return ascii(shown) if any(not ch.isprintable() for ch in shown) else repr(shown)
