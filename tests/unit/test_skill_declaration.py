"""@skill refuses what it does not understand when the module is imported, not at the first message."""

from __future__ import annotations

import pytest

from organism.errors import SkillDefinitionError
from organism.skill import skill


def test_unknown_organ_fails_at_declaration() -> None:
    with pytest.raises(SkillDefinitionError) as raised:

        @skill(organ="digestion")
        def chew(food: str) -> str:
            return food

    assert str(raised.value) == (
        "@skill on tests.unit.test_skill_declaration.test_unknown_organ_fails_at_declaration.<locals>.chew: "
        "unknown organ 'digestion'; configured organs: perception, judgment, relationship, evolution")


def test_unknown_option_fails_at_declaration() -> None:
    with pytest.raises(SkillDefinitionError, match=r"unknown option\(s\) retries_forever; allowed: ignore_result"):

        @skill(organ="perception", retries_forever=True)
        def look(at: str) -> str:
            return at


def test_malformed_quadrant_fails_at_declaration() -> None:
    with pytest.raises(SkillDefinitionError, match=r"quadrant must look like q1\.\.q4, got 'north'"):

        @skill(organ="perception", quadrant="north")
        def look(at: str) -> str:
            return at


def test_a_declared_skill_is_named_by_quadrant_and_organ_and_routed_to_its_organ() -> None:
    @skill(organ="judgment", quadrant="q2")
    def weigh(evidence: list[str]) -> int:
        """Weigh the evidence."""
        return len(evidence)

    assert weigh.name == "q2p1.weigh"
    assert weigh.skill.organ == "judgment" and weigh.skill.description == "Weigh the evidence."
    assert weigh.app.amqp.router.route({}, weigh.name, task_type=weigh)["queue"].name == "judgment"
