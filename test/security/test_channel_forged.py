"""Forged channel messages from inside the kernel: bad types, desync, oversized, deep, amplified.

Each probe writes its bytes from a real sandboxed kernel with code that passes the static check,
then asserts the parent's side: the kernel was killed for a protocol violation with a clear error,
the parent did not build what the message asked for (peak RSS), later cells get no stale output.
"""
from __future__ import annotations

import pytest
from channel_helpers import PRELUDE, PeakRss, kernel_alive, make_frames, pool  # noqa: F401

from spatialclaw_ros.errors import ErrorCode, KernelProtocolError
from spatialclaw_ros.kernel import KernelPool, check_code

probe = pytest.mark.probe(category="channel")
VIOLATION = "protocol violation by the kernel: "


def _violates(pool: KernelPool, code: str, *, warmup: bool = True) -> tuple[str, int]:
    """Run PRELUDE + code in a fresh kernel; it must be killed for a protocol violation.
    Returns (error text, peak RSS growth of this process in kB while the cell ran)."""
    assert check_code(PRELUDE + code) == []             # the probe walks past the static check
    with pool.acquire(make_frames(), {}) as k:
        if warmup:
            assert k.run_cell(PRELUDE, timeout_s=60).ok
        pid = k.pid
        with PeakRss() as rss:
            r = k.run_cell(code if warmup else PRELUDE + code, timeout_s=60)
        assert r.protocol_violation and not r.ok, (r.error, r.stdout, r.stderr)
        assert r.error.startswith(VIOLATION), r.error
        assert "out of memory" not in r.error
        assert not kernel_alive(pid)                     # the parent killed it
        with pytest.raises(KernelProtocolError) as exc:  # and takes no more cells from it
            k.run_cell("print(1)", timeout_s=10)
        assert exc.value.code == ErrorCode.KERNEL_DIED and exc.value.message.startswith(VIOLATION)
    return r.error, rss.growth_kb


@probe
def test_prelude_passes_the_static_check() -> None:
    assert check_code(PRELUDE) == []


@probe
@pytest.mark.parametrize("fields, expect", [
    ({"stdout": 123}, "result stdout must be a str, got int"),
    ({"ok": "yes"}, "result ok must be a bool"),
    ({"variables": "x"}, "result variables must be a list"),
    ({"variables": [{"name": 1, "type": "int", "repr": "1"}]}, "variables[0].name must be a str"),
    ({"variables": [{"name": "a", "type": "t", "repr": "r", "shape": [-1]}]}, "shape[0] must be an int"),
    ({"images": [{"jpeg": "not bytes"}]}, "images[0].jpeg must be bytes"),
    ({"answer": [1, 2]}, "result answer must be an object"),
    ({"error": {"x": 1}}, "result error must be a str"),
    ({"smuggled": 1}, "unknown field"),
])
def test_forged_result_with_bad_fields_is_a_violation(pool: KernelPool, fields: dict,
                                                      expect: str) -> None:
    err, _ = _violates(pool, f"result(**{fields!r})")
    assert expect in err


@probe
def test_forged_result_for_another_request_is_a_violation(pool: KernelPool) -> None:
    err, _ = _violates(pool, "result(id=_rq['id'] + 1, stdout='FORGED')")
    assert "a result for request" in err and "was pending" in err


@probe
def test_forged_result_without_request_id_is_a_violation(pool: KernelPool) -> None:
    err, _ = _violates(pool, "forge(op='result', ok=True, stdout='FORGED')")
    assert "without a request id" in err


@probe
def test_forged_call_out_of_sequence_is_a_violation(pool: KernelPool) -> None:
    err, _ = _violates(pool, "forge(op='call', id=_rq['id'], seq=7, name='vlm', payload={})")
    assert "call number 7 while call 1 was expected" in err


@probe
def test_unknown_op_is_a_violation(pool: KernelPool) -> None:
    err, _ = _violates(pool, "forge(op='ready', pid=1, layers=[], notes=[])")
    assert "'ready' during a cell" in err


@probe
def test_no_desync_after_a_forged_result(pool: KernelPool) -> None:
    """A forged result with the right id is taken for its own cell (model code owns that cell's
    output anyway); the real one then arrives out of turn and the next cell never gets it."""
    with pool.acquire(make_frames(), {}) as k:
        r1 = k.run_cell(PRELUDE + "result(stdout='FORGED')\nprint('REAL-1')", timeout_s=60)
        assert r1.stdout == "FORGED"
        r2 = k.run_cell("print('REAL-2')", timeout_s=60)
        assert r2.protocol_violation and "REAL-1" not in r2.stdout and r2.stdout == ""
        assert r2.error.startswith(VIOLATION) and "pending" in r2.error


@probe
def test_oversized_body_is_refused_before_reading(pool: KernelPool) -> None:
    err, growth_kb = _violates(pool, "result(stdout='x' * (30 * 1024 * 1024))")
    assert "message too large" in err
    assert growth_kb < 16 * 1024, growth_kb          # 30 MB were not read into the parent


@probe
def test_amplification_is_refused_before_parsing(pool: KernelPool) -> None:
    # 3 MB of "{}," would be a million dicts (~250 MB) in the parent
    err, growth_kb = _violates(pool, "result(variables=[{}] * 1_000_000)")
    assert "too many objects/arrays" in err
    assert growth_kb < 32 * 1024, growth_kb


@probe
def test_the_reported_30mb_amplification_is_refused(pool: KernelPool) -> None:
    err, growth_kb = _violates(pool, "result(variables=[{}] * 10_000_000)")
    assert "message too large" in err
    assert growth_kb < 32 * 1024, growth_kb


@probe
def test_deep_nesting_is_refused_before_parsing(pool: KernelPool) -> None:
    err, _ = _violates(pool, "raw(b'J' + b'[' * 20000 + b']' * 20000)")
    assert "nests deeper than" in err


@probe
def test_malformed_json_is_a_violation_not_a_crash(pool: KernelPool) -> None:
    err, _ = _violates(pool, "raw(b'J{\"op\": \"result\", ')")
    assert "malformed message" in err


@probe
def test_huge_numbers_in_checked_fields_are_a_violation(pool: KernelPool) -> None:
    err, _ = _violates(pool, "result(duration_s=10**4000)")
    assert "duration_s must be a finite number, got an int with 4001 digits" in err


def _blocks_code(n: int, mib: int) -> str:
    """Kernel code: a forged `call` whose arrays point at n sparse blocks of `mib` MiB each, made
    the way the kernel makes its own blocks (shm.new_block_fd: memfd_create is denied in the
    sandbox, so these are unnamed files in its scratch; sealed where the host still gives memfds)."""
    return ("_os, _sk, _shm = _i('os'), _i('socket'), _i('sys').modules['spatialclaw_ros.kernel.shm']\n"
            "fds = []\n"
            f"for _ in range({n}):\n"
            "    fd = _shm.new_block_fd('x')\n"
            f"    _os.ftruncate(fd, {mib} * 1024 ** 2)\n"
            "    _shm.seal(fd)\n"
            "    fds.append(fd)\n"
            "ref = lambda i: {'__nd__': i, 'dtype': '|u1', 'shape': [8], 'offset': 0}\n"
            "body = _i('json').dumps({'op': 'call', 'id': _rq['id'], 'seq': 1, 'name': 'vlm',\n"
            f"                         'payload': {{'prompt': 'x', 'images': [ref(i) for i in range({n})]}}}})\n"
            "_sk.send_fds(_ch.sock, [b'J' + body.encode()], fds)\n")


@probe
def test_oversized_shared_blocks_are_refused(pool: KernelPool) -> None:
    """A call whose arrays point at 20 sparse blocks of 240 MiB (each under the kernel's file-size
    limit): refused since more than 4 GiB would be mapped or copied, and nothing is read."""
    with PeakRss() as rss:
        err, _ = _violates(pool, _blocks_code(20, 240))
    assert "shared blocks exceed" in err
    assert rss.growth_kb < 64 * 1024


@probe
def test_unsealed_blocks_over_the_copy_budget_are_refused(pool: KernelPool) -> None:
    """Blocks the parent must copy (unsealed: the kernel's scratch files) totalling 1.2 GiB, under
    the 4 GiB mapping budget: refused before any is read, not copied into the parent."""
    with PeakRss() as rss:
        err, _ = _violates(pool, _blocks_code(5, 240))
    assert "shared blocks exceed" in err
    assert rss.growth_kb < 64 * 1024


@probe
def test_a_sparse_unsealed_block_costs_the_parent_only_its_data(pool: KernelPool) -> None:
    """A call whose array lies at 200 MiB into a 240 MiB sparse scratch block (under the copy
    budget): the parent copies only the block's data, not 240 MiB of holes, and sees the bytes."""
    code = ("_os, _shm = _i('os'), _i('sys').modules['spatialclaw_ros.kernel.shm']\n"
            "fd = _shm.new_block_fd('x')\n"
            "_os.ftruncate(fd, 240 * 1024 ** 2)\n"
            "_os.pwrite(fd, bytes(range(1, 9)), 200 * 1024 ** 2)\n"
            "_shm.seal(fd)\n"
            "ref = {'__nd__': 0, 'dtype': '|u1', 'shape': [8], 'offset': 200 * 1024 ** 2}\n"
            "body = _i('json').dumps({'op': 'call', 'id': _rq['id'], 'seq': 1, 'name': 'peek',\n"
            "                         'payload': {'a': ref}})\n"
            "_i('socket').send_fds(_ch.sock, [b'J' + body.encode()], [fd])\n"
            "_m = _ch.recv()\n"
            "print(_m['ok'], _m.get('value'))\n")
    assert check_code(PRELUDE + code) == []
    seen = []

    def peek(payload: dict) -> list:
        seen.append(payload["a"].tolist())
        return seen[-1]

    with pool.acquire(make_frames(), {}, handlers={"peek": peek}) as k:
        assert k.run_cell(PRELUDE, timeout_s=60).ok
        with PeakRss() as rss:
            r = k.run_cell(code, timeout_s=60)
        assert r.ok and not r.protocol_violation, r.error
        assert r.stdout.strip() == "True [1, 2, 3, 4, 5, 6, 7, 8]"
        assert seen == [[1, 2, 3, 4, 5, 6, 7, 8]]
    assert rss.growth_kb < 64 * 1024


@probe
def test_an_empty_packet_is_a_violation_not_a_death(pool: KernelPool) -> None:
    err, _ = _violates(pool, "raw(b'')")
    assert "empty packet" in err
