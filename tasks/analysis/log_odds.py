"""Which features one group of items uses more than another: "Fightin' Words" log-odds z-scores.

Monroe, Colaresi & Quinn (2008), "Fightin' Words: Lexical Feature Selection and Evaluation for
Identifying the Content of Political Conflict", section 3.5: the log-odds ratio of a feature between
two groups, smoothed by an informative Dirichlet prior, divided by its estimated standard deviation.
Here a feature is counted once per item that has it (a complaint repeated in one rant counts once),
so each feature is a two-category case, present or absent, and its Dirichlet prior is a Beta centred
on the feature's pooled rate over both groups with the weight of ``prior_items`` items. A rare
feature is pulled towards "no difference", and a feature as common in one group as in the other
scores near zero however frequent it is. No maintained library implements it (it is a few lines of
numpy).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable
from typing import TypeVar

import numpy as np

K = TypeVar("K", bound=Hashable)


def log_odds_z(
    target: Counter[K], rest: Counter[K], n_target: int, n_rest: int, prior_items: float = 10.0
) -> dict[K, float]:
    """The z-score of each feature's log-odds ratio, target group against the rest.

    Args:
        target: For each feature, the number of items of the group of interest that have it.
        rest: The same for the other group.
        n_target: The number of items in the group of interest.
        n_rest: The number of items in the other group.
        prior_items: The prior's weight, in items.

    Returns:
        Every feature of either group with its z-score: above 1.645 it is over-represented in the
        target group at the 5 % level (one-sided), below -1.645 in the rest.
    """
    keys = sorted(set(target) | set(rest), key=repr)
    if not keys or n_target <= 0 or n_rest <= 0:
        return dict.fromkeys(keys, 0.0)
    y_t = np.array([target.get(k, 0) for k in keys], dtype=float)
    y_r = np.array([rest.get(k, 0) for k in keys], dtype=float)
    pooled = (y_t + y_r) / (n_target + n_rest)
    a, b = prior_items * pooled, prior_items * (1.0 - pooled)
    has_t, lacks_t, has_r, lacks_r = y_t + a, n_target - y_t + b, y_r + a, n_rest - y_r + b
    delta = np.log(has_t / lacks_t) - np.log(has_r / lacks_r)
    z = delta / np.sqrt(1.0 / has_t + 1.0 / lacks_t + 1.0 / has_r + 1.0 / lacks_r)
    return {k: round(float(v), 4) for k, v in zip(keys, z, strict=True)}
