"""Token allocation: kind budgets (level 1), clause balance inside a kind (level 2), deterministic fill.

Pure functions over candidates; the only outside input is `cost(id, repeat)`, the tokens a
record takes in the counted format at that repeat (repeats differ by their diversification draw).

- Level 1: a kind's budget is share x budget. A kind whose data (max_epochs x available tokens)
  is short keeps all it has, and the surplus goes to the other kinds in proportion to their
  shares (water-filling), unless `strict`.
- Level 2: inside a kind, UniMax: every clause cell gets an equal share, capped at max_epochs x
  its available tokens, the surplus passed on to the uncapped cells (or `proportional`: shares in
  proportion to what each cell has). A record linked to n clauses is credited 1/n to each.
- Real-valued targets become integers by largest-remainder rounding, so cell targets add up
  exactly to their kind's, and kinds' to the whole.
- Fill: each cell lists its records in order of SHA-256(seed, cell, id); the cell with the largest
  relative deficit takes its next record; a cell uses every record once before it repeats any
  (a full pass), and no record is used more than max_epochs times. A kind stops when the next
  record would overshoot its budget by more than half its size.
"""

from __future__ import annotations

import hashlib
import heapq
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

from curator.errors import CuratorError

CostFn = Callable[[str, int], int]
NO_CLAUSE = ""
"""The cell of records linked to no clause."""


class ShortfallError(CuratorError):
    """strict mode: a kind cannot reach its share of the budget."""

    def __init__(self, kind: str, share: float, needed: float, available: float, max_epochs: int) -> None:
        self.kind = kind
        super().__init__(
            f"not enough {kind} data for a share of {share:g}: needs {round(needed):,} tokens, "
            f"{round(available):,} available with max_epochs = {max_epochs} "
            "(lower the share, raise max_epochs, or set strict = false)"
        )


@dataclass(frozen=True, slots=True)
class Candidate:
    """A train record that may be picked."""

    id: str
    kind: str
    clauses: tuple[str, ...]
    """Distinct (a record's links are): a record is credited once to each of its cells."""
    cost: int
    """Tokens at repeat 0 in the counted format (what `cost(id, 0)` gives)."""


class Candidates(Sequence[Candidate]):
    """Train candidates as columns: an export of a million records holds four pointers or numbers
    a candidate (~32 bytes) instead of a `Candidate` object and its list slot (~80). The strings
    and clause tuples are the plan's own, shared; a `Candidate` is made when one is asked for."""

    def __init__(self, items: Iterable[Candidate] = ()) -> None:
        self._ids: list[str] = []
        self._kinds: list[str] = []
        self._clauses: list[tuple[str, ...]] = []
        self._costs = array("q")
        for c in items:
            self.add(c.id, c.kind, c.clauses, c.cost)

    def add(self, record_id: str, kind: str, clauses: tuple[str, ...], cost: int) -> None:
        self._ids.append(record_id)
        self._kinds.append(kind)
        self._clauses.append(clauses)
        self._costs.append(cost)

    def __len__(self) -> int:
        return len(self._ids)

    def id_at(self, at: int) -> str:
        return self._ids[at]

    @overload
    def __getitem__(self, at: int) -> Candidate: ...

    @overload
    def __getitem__(self, at: slice) -> list[Candidate]: ...

    def __getitem__(self, at: int | slice) -> Candidate | list[Candidate]:
        if isinstance(at, slice):
            return [self[i] for i in range(*at.indices(len(self)))]
        return Candidate(self._ids[at], self._kinds[at], self._clauses[at], self._costs[at])

    def __iter__(self) -> Iterator[Candidate]:
        for i in range(len(self._ids)):
            yield Candidate(self._ids[i], self._kinds[i], self._clauses[i], self._costs[i])


@dataclass
class Cell:
    """One kind x clause cell: what it has, what it should get, what it got."""

    kind: str
    clause: str
    available: float
    """Credited tokens of its records (1/n of a record linked to n clauses), one pass."""
    cap: float
    ideal: float
    """Its share before any cap: an equal share of the kind's nominal budget (UniMax)."""
    target: int = 0
    capped: bool = False
    actual: float = 0.0
    members: array[int] = field(default_factory=lambda: array("I"))
    """Its records (positions in the candidates) in fill order; emptied once the fill is done."""
    unique: int = 0
    """How many distinct records were picked for it."""

    @property
    def epochs(self) -> float:
        return self.actual / self.available if self.available else 0.0

    @property
    def shortfall(self) -> float:
        return max(0.0, self.ideal - self.target)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "clause": self.clause or None,
            "available_tokens": round(self.available, 3),
            "target_tokens": self.target,
            "actual_tokens": round(self.actual, 3),
            "epochs": round(self.epochs, 4),
            "unique": self.unique,
            "capped": self.capped,
        }


@dataclass
class KindBudget:
    kind: str
    share: float
    nominal: float
    """share x budget."""
    available: float
    """Tokens of its train records (one pass)."""
    cap: float
    """max_epochs x available."""
    target: int = 0
    tokens: int = 0
    examples: int = 0
    unique: int = 0

    @property
    def shortfall(self) -> float:
        return max(0.0, self.nominal - self.target)


@dataclass
class Allocation:
    kinds: dict[str, KindBudget]
    cells: list[Cell]
    picks: list[tuple[str, int]]
    """(record id, repeat) in the order they were picked (an export plan empties it once its
    train lines are made from it, and `costs` once its line costs are)."""
    costs: list[int] = field(default_factory=list)
    """The counted tokens of each pick, as `cost` gave them (0 stays 0 here)."""

    @property
    def tokens(self) -> int:
        return sum(k.tokens for k in self.kinds.values())


def largest_remainder(values: Sequence[float], total: int) -> list[int]:
    """Integers that add up to `total`, each the floor of its value plus one for the largest remainders."""
    floors = [int(v) for v in values]
    left = total - sum(floors)
    if left > 0:
        order = sorted(range(len(values)), key=lambda i: (-(values[i] - floors[i]), i))
        for i in order[:left]:
            floors[i] += 1
    return floors


def water_fill(total: float, weights: Sequence[float], caps: Sequence[float]) -> tuple[list[float], list[bool]]:
    """Split `total` in proportion to `weights`, no part above its cap, the surplus passed on.

    Returns the parts and which of them were capped.
    """
    n = len(weights)
    parts = [0.0] * n
    capped = [False] * n
    active = [i for i in range(n) if weights[i] > 0]
    remaining = total
    while active and remaining > 1e-9:
        wsum = sum(weights[i] for i in active)
        over = [i for i in active if remaining * weights[i] / wsum >= caps[i]]
        if not over:
            for i in active:
                parts[i] = remaining * weights[i] / wsum
            break
        for i in over:
            parts[i] = caps[i]
            capped[i] = True
            remaining -= caps[i]
        active = [i for i in active if i not in set(over)]
    return parts, capped


def cell_available(credits: Iterable[tuple[int, int]]) -> float:
    """A cell's available tokens from its members' (cost, clauses linked) in id order: the same
    float sum, in the same order, as `plan_cells` makes, so an engine that sums cells elsewhere
    gets the same bits."""
    total = 0.0
    for cost, linked in credits:
        total += cost / linked
    return total


def _order_key(seed: int, kind: str, clause: str, record_id: str) -> bytes:
    return hashlib.sha256(f"{seed}\x1f{kind}\x1f{clause}\x1f{record_id}".encode()).digest()


def _id_at(candidates: Sequence[Candidate]) -> Callable[[int], str]:
    """The id of the candidate at a position, without making the `Candidate` when they are columns."""
    if isinstance(candidates, Candidates):
        return candidates.id_at
    return lambda at: candidates[at].id


def _sort_members(cell: Cell, candidates: Sequence[Candidate], seed: int) -> None:
    members = cell.members
    id_at = _id_at(candidates)
    keys = [_order_key(seed, cell.kind, cell.clause, id_at(at)) for at in members]
    cell.members = array("I", (members[j] for j in sorted(range(len(members)), key=keys.__getitem__)))


def plan_kinds(
    candidates: Sequence[Candidate],
    *,
    budget: int,
    shares: dict[str, float],
    max_epochs: int,
    strict: bool,
    kinds: Iterable[str],
) -> dict[str, KindBudget]:
    """Level 1: each kind's integer token budget."""
    have: dict[str, float] = {}
    for c in candidates:
        have[c.kind] = have.get(c.kind, 0.0) + c.cost
    out = {
        k: KindBudget(
            k, shares.get(k, 0.0), shares.get(k, 0.0) * budget, have.get(k, 0.0), max_epochs * have.get(k, 0.0)
        )
        for k in kinds
    }
    names = list(out)
    if strict:
        for k in names:
            kb = out[k]
            if kb.share > 0 and kb.cap + 1e-9 < kb.nominal:
                raise ShortfallError(k, kb.share, kb.nominal, kb.cap, max_epochs)
    parts, _ = water_fill(float(budget), [out[k].share for k in names], [out[k].cap for k in names])
    total = min(budget, round(sum(parts)))
    for k, t in zip(names, largest_remainder(parts, total), strict=True):
        out[k].target = t
    return out


def plan_cells(
    candidates: Sequence[Candidate],
    kinds: dict[str, KindBudget],
    *,
    balance: str,
    max_epochs: int,
    seed: int,
    available: Mapping[tuple[str, str], float] | None = None,
) -> list[Cell]:
    """Level 2: every cell's integer target, members in fill order.

    `available`: each (kind, clause) cell's available tokens summed elsewhere (see
    `cell_available`); it must name exactly the cells the candidates make.
    """
    cells: dict[tuple[str, str], Cell] = {}
    for at, c in enumerate(candidates):
        linked = c.clauses or (NO_CLAUSE,)
        credit = c.cost / len(linked)
        for clause in linked:
            cell = cells.get((c.kind, clause))
            if cell is None:
                cell = cells[(c.kind, clause)] = Cell(c.kind, clause, 0.0, 0.0, 0.0)
            cell.available += credit
            cell.members.append(at)
    if available is not None:
        if set(available) != set(cells):
            odd = sorted(set(available) ^ set(cells))[0]
            raise CuratorError(f"cell {odd[0]} x {odd[1] or '(no clause)'}: summed tokens do not match the candidates")
        for key, cell in cells.items():
            cell.available = available[key]
    ordered = sorted(cells.values(), key=lambda x: (x.kind, x.clause))
    for kind, kb in kinds.items():
        mine = [x for x in ordered if x.kind == kind]
        if not mine:
            continue
        for x in mine:
            x.cap = max_epochs * x.available
        if balance == "proportional":
            have = sum(x.available for x in mine)
            weights = [x.available for x in mine]
            for x in mine:
                x.ideal = kb.nominal * x.available / have if have else 0.0
        else:
            weights = [1.0] * len(mine)
            for x in mine:
                x.ideal = kb.nominal / len(mine)
        parts, capped = water_fill(float(kb.target), weights, [x.cap for x in mine])
        for x, t, cap in zip(mine, largest_remainder(parts, kb.target), capped, strict=True):
            x.target = t
            x.capped = cap
        for x in mine:
            _sort_members(x, candidates, seed)
    return ordered


def fill(
    cells: list[Cell],
    kinds: dict[str, KindBudget],
    candidates: Sequence[Candidate],
    cost: CostFn,
    *,
    max_epochs: int,
) -> tuple[list[tuple[str, int]], list[int]]:
    """Pick (record, repeat) pairs until every kind reaches its budget (see the module docstring).

    Returns the picks and the tokens `cost` gave each (a candidate's repeat 0 is its `cost`).
    Records are positions in `candidates`, so a million of them cost a few bytes each here.
    """
    picks: list[tuple[str, int]] = []
    costs: list[int] = []
    uses = array("I", bytes(4 * len(candidates)))  # picks of each candidate so far
    index = {(c.kind, c.clause): i for i, c in enumerate(cells)}
    for kind, kb in kinds.items():
        mine = [i for i, c in enumerate(cells) if c.kind == kind and c.target > 0]
        pos = {i: 0 for i in mine}
        passes = {i: 0 for i in mine}
        heap = [(-1.0, i) for i in mine]
        heapq.heapify(heap)
        total = count = unique = 0
        while heap:
            neg, i = heapq.heappop(heap)
            cell = cells[i]
            deficit = (cell.target - cell.actual) / cell.target
            if deficit <= 0:
                continue
            if -neg != deficit:  # stale entry: its cell was credited since
                heapq.heappush(heap, (-deficit, i))
                continue
            at = _next_member(cell, i, pos, passes, uses, max_epochs)
            if at is None:
                continue  # every member used max_epochs times
            c = candidates[at]
            repeat = uses[at]
            counted = c.cost if repeat == 0 else cost(c.id, repeat)
            tokens = max(1, counted)
            if total + tokens / 2 > kb.target:
                break
            uses[at] = repeat + 1
            picks.append((c.id, repeat))
            costs.append(counted)
            total += tokens
            count += 1
            unique += repeat == 0
            linked = c.clauses or (NO_CLAUSE,)
            for clause in linked:
                other = cells[index[(kind, clause)]]
                other.actual += tokens / len(linked)
                other.unique += repeat == 0  # a record's first pick is its first in each of its cells
            heapq.heappush(heap, (-(cell.target - cell.actual) / cell.target, i))
        kb.tokens = total
        kb.examples = count
        kb.unique = unique
    for cell in cells:  # a cell reports its counts; its member list goes
        cell.members = array("I")
    return picks, costs


def _next_member(
    cell: Cell, i: int, pos: dict[int, int], passes: dict[int, int], uses: array[int], max_epochs: int
) -> int | None:
    """The cell's next record in this pass (records other cells already used this often are skipped)."""
    members = cell.members
    while passes[i] < max_epochs:
        while pos[i] < len(members):
            at = members[pos[i]]
            pos[i] += 1
            if uses[at] == passes[i]:
                return at
        passes[i] += 1
        pos[i] = 0
    return None


def allocate(
    candidates: Sequence[Candidate],
    cost: CostFn,
    *,
    budget: int,
    shares: dict[str, float],
    kinds: Iterable[str],
    max_epochs: int,
    balance: str,
    strict: bool,
    seed: int,
    available: Mapping[tuple[str, str], float] | None = None,
) -> Allocation:
    """Levels 1 and 2, then the fill (`available`: see `plan_cells`)."""
    budgets = plan_kinds(candidates, budget=budget, shares=shares, max_epochs=max_epochs, strict=strict, kinds=kinds)
    cells = plan_cells(candidates, budgets, balance=balance, max_epochs=max_epochs, seed=seed, available=available)
    picks, costs = fill(cells, budgets, candidates, cost, max_epochs=max_epochs)
    return Allocation(budgets, cells, picks, costs)
