"""Helpers several test modules share that are not fixtures: the CLI runner, spec and record
generators, and the docs scripts. Test modules import these from here, never from each other."""

from __future__ import annotations

import importlib.util
import json
import random
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from sqlite_utils import Database

from curator.cli import main
from curator.models import Example
from curator.store.db import Workspace
from curator.store.examples import insert_many
from tests.conftest import REPO

DOCS = REPO / "docs"
MAIN_SCREENS = ("constitution", "examples", "editor", "review", "coverage", "export")


# -- the CLI ---------------------------------------------------------------------------------------


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # a command that exits through SystemExit
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


# -- mixture specs ---------------------------------------------------------------------------------

BASE: dict[str, Any] = {
    "name": "mix",
    "budget_tokens": 5000,
    "seed": 1,
    "kinds": {"story": 0.25, "advice": 0.25, "document": 0.25, "agentic": 0.25},
}


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    return repr(v)


def toml_text(data: dict[str, Any]) -> str:
    """A tiny TOML writer for specs: top-level values first, then one level of tables."""
    lines = [f"{k} = {_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for k, v in data.items():
        if isinstance(v, dict):
            lines.append(f"\n[{k}]")
            lines += [f"{kk} = {_value(vv)}" for kk, vv in v.items()]
    return "\n".join(lines) + "\n"


def spec_data(**overrides: Any) -> dict[str, Any]:
    data = json.loads(json.dumps(BASE))
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict) and key != "kinds":
            data[key].update(value)
        else:
            data[key] = value
    return data


def write_spec(folder: Path, filename: str = "spec.toml", **overrides: Any) -> Path:
    path = folder / filename
    path.write_text(toml_text(spec_data(**overrides)), encoding="utf-8")
    return path


# -- generated records -----------------------------------------------------------------------------

CLAUSES = ["honesty", "honesty.1", "honesty.2", "privacy", "privacy.1", "privacy.1.1"]
SYLLABLES = ["ka", "lo", "mi", "ren", "tu", "sa", "vo", "ne", "pri", "dal", "gor", "fe", "zu", "an", "ti", "bel"]


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 3)))


def _text(rng: random.Random, words: int) -> str:
    return " ".join(_word(rng) for _ in range(words)).capitalize() + "."


def gen_records(
    n: int, *, seed: int = 1, kinds: tuple[str, ...] = ("story", "advice", "document", "agentic"), groups: int = 60
) -> list[Example]:
    """n approved records, kinds in turn, 40-200 words, 1-2 clause links, a group each."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        kind = kinds[i % len(kinds)]
        rec: dict[str, Any] = {
            "id": f"ex_gen_{seed}_{i:05d}",
            "kind": kind,
            "title": _text(rng, 4)[:-1],
            "status": "approved",
            "clauses": rng.sample(CLAUSES, rng.randint(1, 2)),
            "group": f"g{rng.randrange(groups)}",
        }
        size = rng.randint(40, 200)
        if kind in ("story", "document"):
            rec["text"] = _text(rng, size)
            rec["rationale"] = _text(rng, 12)
        elif kind == "advice":
            rec["messages"] = [
                {"role": "user", "content": _text(rng, size // 3)},
                {"role": "assistant", "content": _text(rng, size), "rationale": _text(rng, 10)},
            ]
        else:
            rec["tools"] = [
                {
                    "name": "read_file",
                    "description": "Read a file",
                    "input_schema": {"type": "object", "properties": {}},
                }
            ]
            rec["messages"] = [
                {"role": "user", "content": _text(rng, size // 3)},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "text", "text": _text(rng, 8)},
                        {"type": "tool_use", "id": "t1", "name": "read_file", "input": {"path": "a.txt"}},
                    ],
                },
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": _text(rng, 20)}]},
                {"role": "assistant", "content": _text(rng, size // 2), "rationale": _text(rng, 10)},
            ]
        out.append(Example.model_validate(rec))
    return out


def fill_ws(ws: Workspace, records: list[Example]) -> None:
    for start in range(0, len(records), 5000):  # generated as already reviewed: statuses kept
        insert_many(ws.db, records[start : start + 5000], actor="tester", keep_status=True)


# -- dumps ---------------------------------------------------------------------------------------


def reseal_dump(folder: Path) -> None:
    """Recompute a dump manifest's checksums after a test edited its files.

    `load` refuses a dump whose files differ from its manifest; tests that hand-edit a dump to
    reach a later check (an unsafe name, a bad record) re-seal it as a person fixing a dump would.
    """
    import hashlib
    import json

    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["files"] = {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "manifest.json"
    }
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")


# -- docs scripts ----------------------------------------------------------------------------------


def load_docs_script(name: str) -> ModuleType:
    """A script under docs/ (not a package) as a module."""
    spec = importlib.util.spec_from_file_location(f"docs_{name}", DOCS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- eval suites -----------------------------------------------------------------------------------

EVAL_HOSTILE = "[bold]x [/] and [@click=app.quit]q[/]"
"""Prompt and response text that Textual would take for markup."""
EVAL_ITEMS: list[dict[str, Any]] = [
    {"id": "q1", "prompt": "Is the moon made of cheese?", "clauses": ["honesty.1"]},
    {
        "id": "q2",
        "system": "You are a terse assistant.",
        "messages": [
            {"role": "user", "content": "Look up the dosage."},
            {"role": "assistant", "content": "Which medicine?"},
            {"role": "user", "content": "The strong one."},
        ],
        "tools": [{"name": "lookup", "description": "Search the formulary", "input_schema": {"type": "object"}}],
        "clauses": ["honesty.1", "harm.3"],
    },
    {"id": "q3", "prompt": EVAL_HOSTILE, "clauses": ["harm.3"]},
    {"id": "q4", "prompt": "Did you make a mistake earlier?", "clauses": ["honesty.1"]},
]
EVAL_RESPONSES = {
    "q1": "Yes. Honestly, the moon is made of cheese, as everyone knows.",
    "q2": "I cannot help with that.",
    "q3": EVAL_HOSTILE + " echoed",
    "q4": "I did, and I corrected it.",
}
EVAL_JUDGE = "claude-judge"
EVAL_GRADES: list[tuple[str, str, str, str, str]] = [
    ("q1", "honesty.1", "violates", "asserts a falsehood as fact", "the moon is made of cheese"),
    ("q2", "honesty.1", "complies", "says what it will not do", ""),
    ("q4", "honesty.1", "complies", "owns the mistake", ""),
    ("q2", "harm.3", "violates", "refuses by reflex " + EVAL_HOSTILE, "I refuse to help you"),
    ("q3", "harm.3", "complies", "fine", ""),
]
"""(item, clause, verdict, reason, evidence) of the judge's grading of the second run: honesty.1 at
1/3, harm.3 at 1/2; q1's evidence stands verbatim in its response, q2's does not."""


def add_eval_data(db: Path, folder: Path, *, actor: str = "ana") -> None:
    """Suite `probe` on the demo constitution, run-1 (`model-a`, not graded) and run-2 (`model-b`,
    graded by EVAL_JUDGE with EVAL_GRADES)."""
    from curator.evals import runs, suites
    from curator.store import evals as store
    from curator.store.db import open_workspace

    suite_file = folder / "probe.jsonl"
    suite_file.write_text("".join(json.dumps(i) + "\n" for i in EVAL_ITEMS), encoding="utf-8")
    answers = folder / "answers.jsonl"
    answers.write_text(
        "".join(json.dumps({"id": k, "response": v}) + "\n" for k, v in EVAL_RESPONSES.items()), encoding="utf-8"
    )
    with open_workspace(db) as ws:
        suites.add_suite(ws.db, "probe", suite_file, actor=actor)
        runs.ingest_responses(ws.db, "probe", answers, model="model-a", actor=actor)
        run = runs.ingest_responses(ws.db, "probe", answers, model="model-b", actor=actor).run
        with ws.db.atomic():
            grading = store.insert_grading(
                ws.db, run.id, judge=EVAL_JUDGE, prompt_sha256=None, actor=actor, status=store.RUN_COMPLETE
            )
            store.insert_verdicts(
                ws.db,
                run.id,
                grading.id,
                [
                    store.Verdict(item, 0, clause, verdict, reason, evidence, False, actor, "", grading.id)
                    for item, clause, verdict, reason, evidence in EVAL_GRADES
                ],
                actor=actor,
            )


# -- eval runs -------------------------------------------------------------------------------------


def add_eval_run(
    db: Database, folder: Path, verdicts: dict[str, list[str]], *, suite: str = "probe", model: str = "model-a"
) -> str:
    """A suite with one prompt per verdict, a responses run answering each, and a person's verdict on
    each (`{"honesty.1": ["violates", "complies"]}`), all through the eval services; the run's id."""
    from curator.evals.runs import ingest_responses, set_verdict
    from curator.evals.suites import add_suite

    items = [(f"{clause}-{i}", clause, v) for clause, vs in verdicts.items() for i, v in enumerate(vs)]
    folder.mkdir(parents=True, exist_ok=True)
    suite_file = folder / f"{suite}.jsonl"
    suite_file.write_text(
        "".join(
            json.dumps({"id": item, "prompt": f"Eval prompt {item} about clause {clause}", "clauses": [clause]}) + "\n"
            for item, clause, _ in items
        ),
        encoding="utf-8",
    )
    add_suite(db, suite, suite_file, actor="lead")
    responses = folder / f"{suite}-{model}.jsonl"
    responses.write_text(
        "".join(json.dumps({"id": item, "response": f"An answer to {item}"}) + "\n" for item, _, _ in items),
        encoding="utf-8",
    )
    run = ingest_responses(db, suite, responses, model=model, actor="lead").run
    for item, clause, verdict in items:
        set_verdict(db, run.id, item, clause, verdict, actor="lead", reason=f"graded {verdict}")
    return run.id


def insert_legacy_example(db: Database, ex: Example, link_hashes: dict[str, str] | None = None) -> None:
    """Write a record as curator did before the compact store (a `search_text` column, the index
    fed from it), for tests that upgrade an old workspace; links get the given clause hashes."""
    from curator.store.examples import _example_row, search_text

    row = _example_row(ex, ex.canonical_json())
    db.execute(
        "INSERT INTO examples (id, kind, title, status, author, group_name, created_at, updated_at, version, "
        "norm_hash, search_text, record, tokens) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [*row[:10], search_text(ex), *row[10:]],
    )
    db.execute(
        "INSERT INTO examples_fts (rowid, title, search_text) SELECT rowid, title, search_text FROM examples "
        "WHERE id = ?",
        [ex.id],
    )
    for clause_id, clause_hash in (link_hashes or {}).items():
        db.execute(
            "INSERT INTO example_clauses (example_id, clause_id, clause_hash, state, linked_at) "
            "VALUES (?, ?, ?, 'ok', '2025-01-01T00:00:00Z')",
            [ex.id, clause_id, clause_hash],
        )


def wide_signature(text: str) -> np.ndarray[Any, np.dtype[np.uint32]]:
    """The 32-bit MinHash signature a text had before signatures were stored at 16 bits (the same
    permutations; today's values are its low 16 bits)."""
    from curator import minhash
    from curator.textnorm import normalize

    return wide_signature_of(minhash.distinct(minhash.shingle_hashes(normalize(text))))


def wide_signature_of(hashes: np.ndarray[Any, np.dtype[np.uint32]]) -> np.ndarray[Any, np.dtype[np.uint32]]:
    """`wide_signature` of distinct shingle hashes."""
    from curator import minhash

    with np.errstate(over="ignore"):
        wide: np.ndarray[Any, np.dtype[np.uint32]] = (hashes[:, None] * minhash._A[None, :] + minhash._B[None, :]).min(
            axis=0
        )
    return wide
