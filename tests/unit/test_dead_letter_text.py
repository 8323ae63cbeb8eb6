"""What a dead letter keeps of a value the store could not take as it is: escaped, cut, its full size named."""

from __future__ import annotations

import json

from organism.failures.dead_letters import storable


def test_nul_and_lone_surrogates_become_visible_escapes() -> None:
    assert storable("a\x00b\udc80c\ud800", 100) == "a\\x00b\\udc80c\\ud800"
    assert storable({"k\x00": ["\udfff", ("x\x00",)]}, 100) == {"k\\x00": ["\\udfff", ["x\\x00"]]}
    # what is left has no NUL and encodes as UTF-8, which PostgreSQL requires
    stored = "".join(storable(["\x00", "\udc80", "plain ü"], 100))
    assert "\x00" not in stored and stored.encode("utf-8") == "\\x00\\udc80plain ü".encode()


def test_a_long_string_keeps_its_head_and_its_full_length() -> None:
    big = "x" * 10_485_760
    assert storable(big, 1000) == "x" * 1000 + "…[truncated, 10485760 chars]"
    assert storable("short", 1000) == "short"


def test_a_long_list_or_mapping_keeps_its_first_items_and_its_count() -> None:
    numbers = list(range(100_000))
    kept = storable(numbers, 1000)
    assert kept[-1] == "…[truncated, 100000 items]" and kept[:-1] == numbers[:len(kept) - 1]
    assert len(json.dumps(kept)) < 1100
    mapping = {f"key{n}": "v" * 50 for n in range(1000)}
    kept_map = storable(mapping, 1000)
    assert kept_map["…"] == "[truncated, 1000 items]" and 5 < len(kept_map) < 30
    # the first large item keeps its head; what follows is counted, not kept
    head, rest = storable(["y" * 5000, 7], 1000)
    assert head.startswith("y" * 990) and head.endswith("y…[truncated, 5000 chars]") and len(head) < 1030
    assert rest == "…[truncated, 2 items]"


def test_values_json_cannot_carry_become_text() -> None:
    assert storable([float("nan"), float("inf"), 1.5, 3, True, None], 100) == ["nan", "inf", 1.5, 3, True, None]
    assert storable({1: b"\x00raw"}, 100) == {"1": "b'\\x00raw'"}


def test_small_values_pass_unchanged() -> None:
    given = [["a", {"b": [1, 2.5, None]}], {"nested": {"deep": "ok"}}]
    assert storable(given, 1000) == given
