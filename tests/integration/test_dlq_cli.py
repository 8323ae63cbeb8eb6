"""`organism dlq` as an operator uses it: list, show, replay (once), purge."""

from __future__ import annotations

import pytest

from organism.failures import dead_letters
from tests.conftest import Cluster
from tests.integration.test_cli import organism
from tests.support.faulty import refuse
from tests.support.noop import echo
from tests.support.services import wait_for

pytestmark = pytest.mark.integration


def _letters(cluster: Cluster, count: int) -> list[dead_letters.DeadLetter]:
    return wait_for(lambda: (found := dead_letters.find(cluster.settings.database)) and len(found) == count and found,
                    20, f"{count} dead letters")


def test_list_show_replay_and_purge_from_the_command_line(production: Cluster) -> None:
    env = production.env
    for reason in ("first", "second", "token=hunter2 Bearer abc.def"):
        with pytest.raises(Exception, match=r"first|second|token"):
            refuse.delay(reason).get(timeout=20)
    third, second, first = _letters(production, 3)  # newest first

    listed = organism("dlq", "list", "--skill", "test.refuse", env=env)
    assert listed.returncode == 0, listed.stderr
    assert all(str(letter.id) in listed.stdout for letter in (first, second, third))

    shown = organism("dlq", "show", str(third.id), env=env)
    assert "reason: permanent" in shown.stdout and "PermanentError" in shown.stdout
    assert "hunter2" not in shown.stdout and "abc.def" not in shown.stdout, "a secret reached the dead letters"

    replayed = organism("dlq", "replay", str(first.id), env=env)
    again = organism("dlq", "replay", str(first.id), env=env)
    task_id = replayed.stdout.split("as task ")[1].split()[0].rstrip(",")
    assert replayed.returncode == 0 and again.stdout.strip() == (
        f"dead letter {first.id} was replayed before, as task {task_id}"), "a second replay published again"

    purged = organism("dlq", "purge", str(second.id), env=env)
    assert purged.stdout.strip() == "purged 1 dead letter(s)"
    refused = organism("dlq", "replay", str(second.id), env=env)
    assert refused.returncode == 1 and f"dead letter {second.id} was purged" in refused.stderr

    missing = organism("dlq", "show", "999999", env=env)
    assert missing.returncode == 1 and "no dead letter 999999" in missing.stderr and "Traceback" not in missing.stderr
    assert echo.delay(1).get(timeout=20)["value"] == 1
