"""How surprising a count is: ``-log10 P(X ≥ k)`` for the count distributions the burst
model uses. Pure Python: no Django import."""

from __future__ import annotations

import math

__all__ = ["bb_tail_score", "nb_tail_score", "poisson_tail_score"]


def poisson_tail_score(k: int, lam: float) -> float:
    """-log10 P(X ≥ k) for X ~ Poisson(lam); 0 when k ≤ lam."""
    if k <= 0 or k <= lam:
        return 0.0
    lam = max(lam, 1e-9)
    log_pmf = -lam + k * math.log(lam) - math.lgamma(k + 1)
    # tail = pmf(k) * (1 + lam/(k+1) + lam^2/((k+1)(k+2)) + ...)
    s, term, i = 1.0, 1.0, 1
    while i < 1000:
        term *= lam / (k + i)
        s += term
        if term < 1e-12 * s:
            break
        i += 1
    log_tail = log_pmf + math.log(s)
    return max(0.0, -log_tail / math.log(10))


def nb_tail_score(k: int, r: float, p: float) -> float:
    """-log10 P(X ≥ k) for a negative binomial with shape r and success probability p
    (mean r·p/(1-p)): the predictive count when the group's rate is itself uncertain."""
    if k <= 0 or r <= 0 or p <= 0:
        return 0.0 if k <= 0 else 50.0
    p = min(p, 0.999999)
    mean = r * p / (1.0 - p)
    if k <= mean:
        return 0.0
    log_pmf = (math.lgamma(r + k) - math.lgamma(r) - math.lgamma(k + 1)
               + r * math.log1p(-p) + k * math.log(p))
    s, term, i = 1.0, 1.0, k
    while i < k + 20000:
        term *= (r + i) / (i + 1) * p
        s += term
        if term < 1e-12 * s:
            break
        i += 1
    return max(0.0, -(log_pmf + math.log(s)) / math.log(10))


def bb_tail_score(k: int, n: int, a: float, b: float) -> float:
    """-log10 P(X ≥ k) for X ~ Beta-Binomial(n, a, b): the group's count among n complaints
    when its share is uncertain (Beta(a, b)); 0 when k is not above the mean."""
    if k <= 0:
        return 0.0
    if k > n:
        return 50.0
    if a <= 0 or b <= 0 or k <= n * a / (a + b):
        return 0.0
    lg = math.lgamma
    log_pmf = (lg(n + 1) - lg(k + 1) - lg(n - k + 1)
               + lg(k + a) + lg(n - k + b) - lg(n + a + b)
               - (lg(a) + lg(b) - lg(a + b)))
    s, term, i = 1.0, 1.0, k
    while i < n:
        term *= (n - i) / (i + 1) * (i + a) / (n - i - 1 + b)
        s += term
        if term < 1e-12 * s:
            break
        i += 1
    return max(0.0, -(log_pmf + math.log(s)) / math.log(10))
