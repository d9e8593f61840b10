"""Faults in model code end with a clear message, and the next cell runs with the state restored."""
from __future__ import annotations

import os

import pytest

from spatialclaw_ros.kernel import KernelPool, KernelSession


@pytest.fixture(scope="module")
def session(pool: KernelPool, frames: list) -> KernelSession:
    """One session for the whole module: each fault must leave it usable for the next."""
    calls = []

    def vlm(payload: dict) -> dict:
        calls.append(payload["prompt"])
        return {"text": f"answer {len(calls)}"}

    s = pool.acquire(frames, {"question": "q"}, handlers={"vlm": vlm})
    r = s.run_cell("base = np.arange(5)\nnote = vlm('first')\nprint(note)", timeout_s=10)
    assert r.ok and r.stdout.strip() == "answer 1", r.error
    s.vlm_calls = calls  # type: ignore[attr-defined]
    yield s
    s.close()


def test_infinite_loop_times_out_and_state_is_replayed(session: KernelSession) -> None:
    pid = session.pid
    r = session.run_cell("spin = 1\nwhile True:\n    spin += 1", timeout_s=1.0)
    assert r.timed_out and not r.ok
    assert r.error.startswith("The cell timed out after 1 s and was stopped")
    assert "replayed" in r.error and "base" in r.error and "note" in r.error
    assert r.restored and r.restored[0].startswith("cell 1: ")
    assert session.pid != pid and not os.path.exists(f"/proc/{pid}")
    nxt = session.run_cell("print(base.sum(), note, 'spin' in globals())", timeout_s=10)
    assert nxt.ok and nxt.stdout.strip() == "10 answer 1 False"
    # the replay reused the recorded vlm() reply instead of asking the model again
    assert session.vlm_calls == ["first"]  # type: ignore[attr-defined]


def test_20_gb_allocation_is_a_memory_error(session: KernelSession) -> None:
    r = session.run_cell("big = np.ones(20 * 1024**3, dtype=np.uint8)", timeout_s=20)
    assert not r.ok and not r.crashed and not r.timed_out
    assert "Unable to allocate 20.0 GiB" in r.error
    assert "the kernel may use at most 2048 MB" in r.error
    nxt = session.run_cell("print(int(base.sum()))", timeout_s=10)
    assert nxt.ok and nxt.stdout.strip() == "10"


def test_segfault_restarts_the_kernel_and_replays(session: KernelSession) -> None:
    pid = session.pid
    r = session.run_cell("marker = 1\nimport ctypes\nctypes.string_at(0)", timeout_s=10)
    assert r.crashed and not r.ok
    assert "the kernel crashed (signal SIGSEGV" in r.error
    assert "replayed" in r.error
    assert "Fatal Python error: Segmentation fault" in r.stderr
    assert "<cell-" in r.stderr
    assert session.pid != pid
    nxt = session.run_cell("print(base.tolist(), 'marker' in globals())", timeout_s=10)
    assert nxt.ok and nxt.stdout.strip() == "[0, 1, 2, 3, 4] False"


def test_100_mb_of_output_is_truncated_with_a_note(session: KernelSession) -> None:
    r = session.run_cell("for i in range(100_000):\n    print('z' * 999)\nprint('END')", timeout_s=60)
    assert r.ok, r.error
    assert len(r.stdout) < 100_000
    assert "characters of output dropped" in r.stdout
    assert r.stdout.rstrip().endswith("END")
    assert r.stdout.startswith("z" * 999)
    nxt = session.run_cell("print(note)", timeout_s=10)
    assert nxt.ok and nxt.stdout.strip() == "answer 1"


def test_exiting_the_kernel_is_refused(session: KernelSession) -> None:
    r = session.run_cell("raise SystemExit(3)", timeout_s=10)
    assert not r.ok and not r.crashed and "call ReturnAnswer" in r.error
    assert session.run_cell("print(note)", timeout_s=10).ok


def test_a_cell_that_fails_on_replay_is_reported_lost(pool: KernelPool) -> None:
    with pool.acquire([], {}) as k:
        assert k.run_cell("open('once.txt', 'x').write('1')\na = 1", timeout_s=10).ok
        assert k.run_cell("b = 2", timeout_s=10).ok
        r = k.run_cell("while True:\n    pass", timeout_s=0.5)
        assert r.timed_out
        if "mountns" in k.sandbox_layers:
            # each kernel has its own scratch tmpfs: the new one is empty, so the replay succeeds
            assert r.restored == ["cell 1: a", "cell 2: b"], r.error
            return
        # scratch survives the restart, so replaying cell 1 now fails (FileExistsError)
        assert "could not restore: cell 1 and later (FileExistsError" in r.error
        assert r.restored == []
        nxt = k.run_cell("print('a' in globals(), 'b' in globals())", timeout_s=10)
        assert nxt.stdout.strip() == "False False"
