"""The run strategies as pure decisions (no NATS): every strategy, admitted and released."""

from __future__ import annotations

import pytest

from rdg.spec import RunStrategy
from rdg.workflow._admission import Active, admit, limit, release
from rdg.workflow._models import RunStatus

S = RunStrategy


@pytest.mark.parametrize("strategy, max_parallel, before, expected", [
    (S.SEQUENTIAL, 0, Active(), (Active(["new"], []), RunStatus.IN_PROGRESS, [])),
    (S.SEQUENTIAL, 0, Active(["a"], ["b"]), (Active(["a"], ["b", "new"]), RunStatus.CREATED, [])),
    (S.PARALLEL, 2, Active(["a"], []), (Active(["a", "new"], []), RunStatus.IN_PROGRESS, [])),
    (S.PARALLEL, 2, Active(["a", "b"], []), (Active(["a", "b"], ["new"]), RunStatus.CREATED, [])),
    (S.FIRST_ONLY, 0, Active(), (Active(["new"], []), RunStatus.IN_PROGRESS, [])),
    (S.FIRST_ONLY, 0, Active(["a"], []), (Active(["a"], []), RunStatus.STOPPED, [])),
    (S.LAST_ONLY, 0, Active(["a", "b"], []), (Active(["new"], []), RunStatus.IN_PROGRESS, ["a", "b"])),
    (S.LAST_ONLY, 0, Active(), (Active(["new"], []), RunStatus.IN_PROGRESS, [])),
])
def test_admit(strategy: RunStrategy, max_parallel: int, before: Active, expected: tuple) -> None:
    snapshot = Active(list(before.running), list(before.waiting))
    assert admit(before, strategy, max_parallel, "new") == expected
    assert before == snapshot  # pure: the input is not changed


@pytest.mark.parametrize("strategy, max_parallel, before, ended, expected", [
    (S.SEQUENTIAL, 0, Active(["a"], ["b", "c"]), "a", (Active(["b"], ["c"]), ["b"])),
    (S.SEQUENTIAL, 0, Active(["a"], ["b", "c"]), "c", (Active(["a"], ["b"]), [])),  # a waiting run stopped
    (S.PARALLEL, 3, Active(["a", "b", "c"], ["d", "e", "f"]), "b", (Active(["a", "c", "d"], ["e", "f"]), ["d"])),
    (S.PARALLEL, 3, Active(["a"], []), "a", (Active([], []), [])),
    (S.FIRST_ONLY, 0, Active(["a"], []), "a", (Active([], []), [])),
    (S.LAST_ONLY, 0, Active(["a"], ["x"]), "a", (Active([], ["x"]), [])),  # nothing waits under last_only
    (S.SEQUENTIAL, 0, Active(["a"], []), "unknown", (Active(["a"], []), [])),
])
def test_release(strategy: RunStrategy, max_parallel: int, before: Active, ended: str, expected: tuple) -> None:
    assert release(before, strategy, max_parallel, ended) == expected


def test_limits_and_the_stored_form() -> None:
    assert [limit(S.SEQUENTIAL, 9), limit(S.PARALLEL, 0), limit(S.PARALLEL, 4)] == [1, 1, 4]
    assert Active.from_json(None) == Active() and Active.from_json({"running": ["a"]}) == Active(["a"], [])
    assert Active(["a"], ["b"]).as_json() == {"running": ["a"], "waiting": ["b"]}
