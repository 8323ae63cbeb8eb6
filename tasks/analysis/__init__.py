"""Deterministic, offline text analytics behind the Daily Sync skills.

``sources`` loads posts and feeds into items; ``pain_points`` (q1), ``emotions`` (q2), ``trends``
(q3) and ``scenes`` (q4) scan them; ``synthesis`` relates the four scans; ``evaluation`` ranks the
resulting insights as opportunities and risks; ``weekly`` compares a week of Daily Sync reports with the
week before (the Weekly Review). Shared text helpers live in ``text``.
"""
