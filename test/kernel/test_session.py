"""Kernel sessions through the real pool: namespace, results, call_parent, cancel, clean-up."""
from __future__ import annotations

import mmap
import os
import threading
import time

import cv2
import numpy as np
import pytest

from spatialclaw_ros.errors import QueryCanceledError
from spatialclaw_ros.kernel import KernelPool, shared_empty, shm
from kernel_helpers import children_of, make_frames


def test_namespace_holds_frames_metadata_and_helpers(pool: KernelPool, frames: list) -> None:
    with pool.acquire(frames, {"question": "how far?", "answer_type": "number"}) as k:
        r = k.run_cell(
            "print(len(InputImages), InputImages[1][5, 5].tolist(), InputImages[0][0, 0].tolist())\n"
            "print(Metadata['question'], Metadata['answer_type'], Metadata['stamps_ns'])\n"
            "print(Metadata['fixed_frame'], Metadata['frame_ids'][0], Metadata['cameras'][0]['K'][0])\n"
            "print(InputImages[0].flags.writeable, type(np).__name__, cv2.__name__, scipy.__name__)\n"
            "try:\n    InputImages[0][0, 0] = 0\nexcept ValueError as e:\n    print('read-only')\n",
            timeout_s=10)
        assert r.ok, r.error
        lines = r.stdout.splitlines()
        assert lines[0] == "2 [10, 10, 10] [1, 2, 3]"
        assert lines[1] == "how far? number [1000000000, 1100000000]"
        assert lines[2] == "odom camera_color_optical_frame [50.0, 0.0, 32.0]"
        assert lines[3] == "False module cv2 scipy"
        assert lines[4] == "read-only"


def test_variables_images_and_answer(pool: KernelPool, frames: list) -> None:
    with pool.acquire(frames, {}) as k:
        r = k.run_cell("d = np.linspace(0, 1, 5, dtype=np.float32)\nn = 3\n_hidden = 1\n"
                       "show(InputImages[0], title='first')\nshow(np.ones((10, 20), bool))\n"
                       "ReturnAnswer(np.float64(1.25), unit='m', frame='odom', "
                       "point=np.array([1.0, 2.0, 3.0]))\nd.sum()", timeout_s=10)
        assert r.ok, r.error
        by = {v.name: v for v in r.variables}
        assert set(by) == {"d", "n"}
        assert by["d"].shape == [5] and by["d"].dtype == "float32" and by["d"].type == "ndarray"
        assert by["n"].repr == "3" and by["n"].shape is None
        assert [im.title for im in r.images] == ["first", None]
        img = cv2.imdecode(np.frombuffer(r.images[0].jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert img.shape == (48, 64, 3) and (r.images[0].width, r.images[0].height) == (64, 48)
        assert r.answer == {"value": 1.25, "unit": "m", "frame": "odom", "point": [1.0, 2.0, 3.0]}
        assert r.stdout.strip().endswith("2.5")          # the last expression is echoed
        r2 = k.run_cell("n = 4\nm = n", timeout_s=10)
        assert {v.name for v in r2.variables} == {"n", "m"} and r2.answer is None


def test_errors_are_condensed_to_the_cell_lines(pool: KernelPool) -> None:
    with pool.acquire([], {}) as k:
        r = k.run_cell("def f(x):\n    return np.linalg.inv(x)\n\ny = f(np.zeros((2, 2)))", timeout_s=10)
        assert not r.ok and not r.crashed
        assert "cell 1, line 4: y = f(np.zeros((2, 2)))" in r.error
        assert "cell 1, line 2: return np.linalg.inv(x)" in r.error
        assert "LinAlgError: Singular matrix" in r.error
        assert "site-packages" not in r.error and "runtime.py" not in r.error
        s = k.run_cell("x = (", timeout_s=10)
        assert not s.ok and "SyntaxError" in s.error
        bad = k.run_cell("ReturnAnswer({1, 2})", timeout_s=10)
        assert not bad.ok and "ReturnAnswer: value is a set" in bad.error


def test_call_parent_moves_arrays_both_ways_through_shared_memory(pool: KernelPool) -> None:
    seen: dict = {}

    def segment(payload: dict) -> dict:
        img = payload["image"]
        base = img
        while isinstance(base, np.ndarray):
            base = base.base
        seen["via_shm"] = isinstance(base, mmap.mmap)
        seen["writeable"] = img.flags.writeable
        seen["sum"] = int(img.sum())
        masks = np.zeros((2, 200, 300), bool)
        masks[1, 50:100, 60:90] = True
        return {"masks": masks, "depth": np.full((200, 300), 2.5, np.float32), "n": 2}

    def vlm(payload: dict) -> dict:
        return {"text": f"{payload['prompt']} / {len(payload['images'])} image(s) "
                        f"{payload['images'][0].shape}"}

    with pool.acquire([], {}, handlers={"perception.segment": segment, "vlm": vlm}) as k:
        r = k.run_cell(
            "img = np.full((200, 300, 3), 7, np.uint8)\n"
            "rep = _call_parent('perception.segment', {'image': img, 'text': 'mug'})\n"
            "print(rep['n'], rep['masks'].shape, rep['masks'].dtype, int(rep['masks'][1].sum()),"
            " float(rep['depth'].mean()), rep['masks'].flags.writeable)\n"
            "print(vlm('what is it?', [img]))", timeout_s=10)
        assert r.ok, r.error
        assert seen == {"via_shm": True, "writeable": False, "sum": 200 * 300 * 3 * 7}
        assert r.stdout.splitlines() == ["2 (2, 200, 300) bool 1500 2.5 False",
                                         "what is it? / 1 image(s) (200, 300, 3)"]
        assert [c["name"] for c in r.parent_calls] == ["perception.segment", "vlm"]
        missing = k.run_cell("_call_parent('nope', {})", timeout_s=10)
        assert not missing.ok and "no parent handler named 'nope'" in missing.error
        assert "perception.segment, vlm" in missing.error


def test_handler_errors_reach_the_cell(pool: KernelPool) -> None:
    def boom(payload: dict) -> dict:
        raise RuntimeError("model not loaded: run spatialclaw build-engines")

    with pool.acquire([], {}, handlers={"vlm": boom}) as k:
        r = k.run_cell("vlm('hi')", timeout_s=10)
        assert not r.ok and "model not loaded: run spatialclaw build-engines" in r.error


def test_zero_copy_frames_from_shared_empty(pool: KernelPool) -> None:
    f = make_frames(1)[0]
    rgb = shared_empty(f.rgb.shape, np.uint8)
    rgb[...] = 42
    f.rgb = rgb
    with pool.acquire([f], {}) as k:
        r = k.run_cell("print(int(InputImages[0].mean()))", timeout_s=10)
        assert r.stdout.strip() == "42"


def test_sessions_share_no_state(pool: KernelPool, frames: list) -> None:
    a = pool.acquire(frames, {})
    ra = a.run_cell("secret = 123\nopen('note.txt', 'w').write('a')\nimport os\nprint(os.getcwd())",
                    timeout_s=10)
    assert ra.ok, ra.error
    scratch_a = a.scratch_dir
    if "mountns" in a.sandbox_layers:    # a private tmpfs, gone with the kernel
        assert ra.stdout.strip() == "/scratch" and not os.path.exists(os.path.join(scratch_a, "note.txt"))
    else:
        assert ra.stdout.strip() == scratch_a and os.path.exists(os.path.join(scratch_a, "note.txt"))
    b = pool.acquire(frames, {})
    rb = b.run_cell("import os\nprint('secret' in globals(), os.listdir('.'))", timeout_s=10)
    assert rb.stdout.strip() == "False []"
    assert a.pid != b.pid and b.scratch_dir != scratch_a
    a.close()
    b.close()
    assert not os.path.exists(scratch_a)


def test_close_leaves_no_processes_or_shared_memory(pool: KernelPool) -> None:
    ours = ("psm_", "spatialclaw")                       # other suites' DDS segments come and go
    before_shm = {n for n in os.listdir("/dev/shm") if n.startswith(ours)}
    before_memfd = shm.open_memfds()
    k = pool.acquire(make_frames(3, 120, 160), {})
    r = k.run_cell("import threading, time\nt = threading.Thread(target=time.sleep, args=(60,), daemon=True)\n"
                   "t.start()\nprint(threading.active_count())", timeout_s=10)
    assert r.ok and r.stdout.strip() == "2", r.error      # threads are allowed
    pid = k.pid
    assert children_of(pid) == [pid]
    k.close()
    assert children_of(pid) == []
    assert not os.path.exists(f"/proc/{pid}")
    assert {n for n in os.listdir("/dev/shm") if n.startswith(ours)} == before_shm
    assert shm.open_memfds() == before_memfd
    with pytest.raises(Exception, match="closed"):
        k.run_cell("1", timeout_s=1)


def test_cancel_from_another_thread_stops_the_kernel(pool: KernelPool) -> None:
    k = pool.acquire([], {})
    pid = k.pid
    timer = threading.Timer(0.5, k.cancel)
    timer.start()
    r = k.run_cell("while True:\n    pass", timeout_s=60)
    timer.join()
    assert r.canceled and not r.ok and not r.timed_out
    assert "canceled" in r.error
    assert not os.path.exists(f"/proc/{pid}")
    with pytest.raises(QueryCanceledError):
        k.run_cell("1", timeout_s=1)
    k.close()


def test_bad_requests_get_clear_errors(pool: KernelPool) -> None:
    f = make_frames(1)[0]
    f.depth = f.depth.astype(np.float64)
    with pytest.raises(ValueError, match=r"frames\[0\].depth must be \(48, 64\) float32"):
        pool.acquire([f], {})
    with pytest.raises(TypeError, match="expected spatialclaw_ros Frame"):
        pool.acquire(["not a frame"], {})  # type: ignore[list-item]
    with pytest.raises(TypeError, match="cannot send a set"):
        pool.acquire([], {"choices": {"a", "b"}})
    with pytest.raises(ValueError, match="would let model code write there"):
        pool.acquire([], {}, scratch_dir=os.path.expanduser("~"))
    with pool.acquire([], {}) as k:
        with pytest.raises(ValueError, match="timeout_s must be > 0"):
            k.run_cell("1", timeout_s=0)


def test_warm_acquire_uses_a_prewarmed_kernel(pool: KernelPool) -> None:
    assert pool.wait_warm(timeout_s=60)
    warm_pids = {k.pid for k in pool._ready}
    with pool.acquire([], {}) as k:
        assert k.pid in warm_pids
        r = k.run_cell("print(tools is not None)", 10)
        assert r.ok, r.error
        # tools come from spatialclaw_ros.tools.make_toolbox; if it fails the notes say why
        assert r.stdout.strip() == "True" or any("tools" in n for n in k.notes)


def test_pool_recovers_when_the_fork_server_dies(pool: KernelPool) -> None:
    import signal

    assert pool.wait_warm(timeout_s=60)
    z = pool._zygote
    assert z is not None
    os.kill(z.pid, signal.SIGKILL)
    with pool.acquire([], {}) as k:                       # warm kernels die with it: new server
        r = k.run_cell("print(6 * 7)", timeout_s=10)
        assert r.ok and r.stdout.strip() == "42", r.error
    assert pool.wait_warm(timeout_s=60)
    for _ in range(600):          # a kernel forked just before the kill may count as warm a moment
        nz = pool._zygote
        if nz is not None and nz.alive() and nz.pid != z.pid:
            break
        time.sleep(0.1)
    assert pool._zygote is not None and pool._zygote.pid != z.pid


def test_caller_scratch_dir_is_the_only_writable_place(pool: KernelPool, tmp_path) -> None:
    scratch = tmp_path / "scratch"
    with pool.acquire([], {}, scratch_dir=str(scratch)) as k:
        r = k.run_cell("np.save('depth.npy', np.arange(3))\nimport os\nprint(os.getcwd())", timeout_s=10)
        if "mountns" in k.sandbox_layers:
            # the kernel's scratch is its own size-capped tmpfs: nothing reaches the caller's dir
            assert r.ok and r.stdout.strip() == "/scratch", r.error
            assert not (scratch / "depth.npy").exists()
            return
        assert r.ok and r.stdout.strip() == str(scratch), r.error
        assert np.load(scratch / "depth.npy").tolist() == [0, 1, 2]
    assert (scratch / "depth.npy").exists()          # the caller's dir is kept after close
