"""Each organ's worker settings reach its command line and its skills, and a mistake in them is one line."""

from __future__ import annotations

import pytest

from organism.errors import SkillDefinitionError, SkillTimeout
from organism.failures.time_limits import exceeded
from organism.local import worker_command
from organism.settings import Settings, SettingsError, get_settings, load
from organism.skill import skill


def options(settings: Settings, organ: str) -> list[str]:
    """What ``organism worker --organ <organ>`` passes to ``celery worker`` after its queue and name."""
    command = worker_command(settings, [organ])
    return command[command.index("-n") + 2:]


def test_a_prefork_organs_command_line_carries_its_pool_prefetch_and_limits(environ: pytest.MonkeyPatch) -> None:
    environ.setenv("ORGANISM_WORKERS__PERCEPTION__MAX_TASKS_PER_CHILD", "50")
    environ.setenv("ORGANISM_WORKERS__PERCEPTION__SOFT_TIME_LIMIT_S", "2.5")
    settings = load(workers={"perception": {"concurrency": 3, "prefetch": 2, "max_memory_per_child_mb": 300,
                                            "time_limit_s": 4}})

    assert options(settings, "perception") == [
        "-P", "prefork", "-c", "3", "--prefetch-multiplier", "2", "--soft-time-limit", "2.5", "--time-limit", "4",
        "--max-tasks-per-child", "50", "--max-memory-per-child", "307200", "--loglevel", "INFO", "--without-gossip",
        "--without-mingle"]


def test_a_thread_organs_command_line_carries_no_limit_its_pool_would_ignore(environ: pytest.MonkeyPatch) -> None:
    settings = load(workers={"judgment": {"bound": "io", "concurrency": 16, "prefetch": 4}})

    assert options(settings, "judgment") == [
        "-P", "threads", "-c", "16", "--prefetch-multiplier", "4", "--loglevel", "INFO", "--without-gossip",
        "--without-mingle"]


def test_an_organ_without_settings_takes_the_general_defaults(environ: pytest.MonkeyPatch) -> None:
    worker = load().worker("evolution")

    assert (worker.pool, worker.concurrency, worker.prefetch, worker.max_memory_per_child_mb,
            worker.soft_time_limit_s, worker.time_limit_s, worker.memory_limit) == (
        "prefork", 1, 1, 1024, 300, 360, "1280Mi")


def test_a_limit_a_thread_pool_cannot_apply_is_refused_in_one_line(environ: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError) as raised:
        load(workers={"judgment": {"pool": "threads", "max_memory_per_child_mb": 500, "max_tasks_per_child": 9}})

    assert str(raised.value) == (
        "settings: ORGANISM_WORKERS[judgment]: max_tasks_per_child, max_memory_per_child_mb apply only to the "
        "prefork pool (a thread cannot be replaced as a child is); its pool is threads")


def test_an_io_organ_takes_threads_with_a_slot_held_ahead_and_keeps_its_time_limits(
        environ: pytest.MonkeyPatch) -> None:
    worker = load(workers={"judgment": {"bound": "io", "soft_time_limit_s": 20, "time_limit_s": 25}}).worker(
        "judgment")

    assert (worker.pool, worker.concurrency, worker.prefetch, worker.soft_time_limit_s, worker.time_limit_s) == (
        "threads", 20, 2, 20, 25)
    assert worker.summary() == ("threads, 20 threads, prefetch 2; time limits 20 s soft, 25 s hard (a watchdog's); "
                                "no child limits (only a prefork pool has children)")


def test_a_resource_that_is_no_kubernetes_quantity_is_refused_in_one_line(environ: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError) as raised:
        load(workers={"perception": {"memory_limit": "2 GB", "cpu_limit": "half"}})

    assert str(raised.value).splitlines() == [
        "setting ORGANISM_WORKERS[perception][cpu_limit]: Value error, give CPU as cores or millicores, e.g. '1', "
        "'0.5' or '500m' (got 'half')",
        "setting ORGANISM_WORKERS[perception][memory_limit]: Value error, give memory as bytes with a suffix, e.g. "
        "'512Mi', '2Gi' or '1G' (got '2 GB')"]


def test_a_skill_takes_its_organs_time_limits_unless_it_declares_its_own() -> None:
    @skill(organ="judgment", name="test.units.weigh")
    def weigh(n: int) -> int:
        return n

    @skill(organ="judgment", name="test.units.weigh_quickly", soft_time_limit=5, time_limit=8)
    def weigh_quickly(n: int) -> int:
        return n

    judgment = get_settings().worker("judgment")
    assert (weigh.soft_time_limit, weigh.time_limit) == (judgment.soft_time_limit_s, judgment.time_limit_s)
    assert (weigh_quickly.soft_time_limit, weigh_quickly.time_limit) == (5, 8)
    # A message carries only the limits the skill declares: the organ's are its workers' to apply.
    assert (weigh._get_exec_options()["soft_time_limit"], weigh._get_exec_options()["time_limit"]) == (None, None)
    assert (weigh_quickly._get_exec_options()["soft_time_limit"], weigh_quickly._get_exec_options()["time_limit"]) == (
        5, 8)

    assert str(exceeded(weigh, "soft", judgment.soft_time_limit_s)) == (
        f"soft time limit of {judgment.soft_time_limit_s:g} s exceeded (organ judgment)")
    assert str(exceeded(weigh_quickly, "hard", 8)) == (
        "hard time limit of 8 s exceeded (skill test.units.weigh_quickly); its process was killed")
    assert str(exceeded(weigh_quickly, "hard", 8, in_thread=True)) == (
        "hard time limit of 8 s exceeded (skill test.units.weigh_quickly); its thread was abandoned")
    assert str(exceeded(weigh, "soft", 1.5)) == "soft time limit of 1.5 s exceeded (set by the call)"
    assert isinstance(exceeded(weigh, "soft", 1.5), SkillTimeout)


def test_celerys_time_limit_exceptions_in_a_skills_failure_classes_are_refused_at_declaration() -> None:
    from celery.exceptions import SoftTimeLimitExceeded

    with pytest.raises(SkillDefinitionError, match=r": SoftTimeLimitExceeded never reaches classification; a skill "
                                                   r"past its time limit fails with organism.errors.SkillTimeout"):

        @skill(organ="perception", permanent=(SoftTimeLimitExceeded,))
        def look(at: str) -> str:
            return at
