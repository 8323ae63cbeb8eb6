"""Merging of key phrases that stand for one theme because mostly the same posts mention them.

"battery", "drain" and "battery drain" are often said by the same people; a scanner that reported
each would list one theme three times. Any scanner can group its candidates here, whatever it
keeps with each of them, as long as it can say which posts mention a candidate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence, Set
from typing import TypeVar

T = TypeVar("T")


def group_by_overlap(candidates: Sequence[T], posts: Callable[[T], Set[str]], threshold: float = 0.6) -> list[list[T]]:
    """Greedily merge candidates that are mostly mentioned by the same posts, keeping the given order.

    A candidate joins the first group whose leading candidate's posts overlap its own: the overlap
    coefficient must reach ``threshold`` and the Jaccard index half of it, so a rare phrase is not
    swallowed by a broad one. Comparing with the leader only keeps groups from snowballing.

    Args:
        candidates: Candidates in order of importance; each group is led by its first member.
        posts: The ids of the posts that mention a candidate (not empty).
        threshold: The overlap coefficient a candidate needs to join a group.
    """
    groups: list[tuple[set[str], list[T]]] = []
    for candidate in candidates:
        ids = posts(candidate)
        for leader, members in groups:
            shared = len(ids & leader)
            if shared >= threshold * min(len(ids), len(leader)) and shared >= threshold / 2 * len(ids | leader):
                members.append(candidate)
                break
        else:
            groups.append((set(ids), [candidate]))
    return [members for _, members in groups]
