"""Rates with honest error bars: the Wilson score interval for k successes in n trials.

Why Wilson and not `p ± z·sqrt(p(1-p)/n)`: the normal approximation collapses to a zero-width
interval at 0/n and n/n and leaves [0, 1] for small n, which is exactly where eval suites live
(a clause probed by 5 prompts). Wilson stays inside [0, 1] and is wide when n is small.
"""

from __future__ import annotations

import math

Z95 = 1.959963984540054
"""The two-sided 95% quantile of the standard normal distribution."""


def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """(low, high) of the Wilson score interval for `k` of `n`; (0, 1) when n is 0 (nothing known)."""
    if n < 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return 0.0, 1.0
    p = k / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    # exact at the ends: rounding must not put 0/n above 0 or n/n below 1
    low = 0.0 if k == 0 else max(0.0, centre - half)
    high = 1.0 if k == n else min(1.0, centre + half)
    return low, high


def intervals_overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """True when two intervals share a point; a change is reported only when they do not."""
    return a[0] <= b[1] and b[0] <= a[1]


class ViolationRate:
    """`rate` and `interval` of a class with `n` graded answers (complies or violates) and `violations`.

    A mixin, not a dataclass: the eval report's per-clause rows and coverage's violations cell both
    carry these counts among fields of their own.
    """

    n: int
    violations: int

    @property
    def rate(self) -> float | None:
        """violations / n; None when nothing was graded (not 0: nothing is known)."""
        return self.violations / self.n if self.n else None

    @property
    def interval(self) -> tuple[float, float]:
        """Wilson 95% (low, high); (0, 1) when nothing was graded."""
        return wilson_interval(self.violations, self.n)
