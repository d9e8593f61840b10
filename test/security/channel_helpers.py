"""Shared by the channel probes: a pool, frames, the kernel-side forging prelude, memory meters.

Every probe runs its forged bytes from inside a real sandboxed kernel, with code that walks past
the static check (PRELUDE is checked to pass it), and asserts what did not happen in the parent.
"""
from __future__ import annotations

import json
import os
import socket
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from spatialclaw_ros.config import Config, SandboxConfig
from spatialclaw_ros.frames.types import CameraModel, Frame
from spatialclaw_ros.kernel import KernelPool

# Kernel code: the live channel object and the pending request, reached without an import statement.
PRELUDE = (
    "_i = getattr(np, '__buil' + 'tins__')['__imp' + 'ort__']\n"
    "_gc = _i('gc')\n"
    "_f = _i('sys')._getframe()\n"
    "while 'request' not in _f.f_locals:\n"
    "    _f = _f.f_back\n"
    "_rq = _f.f_locals['request']\n"
    # the live channel is the serving loop's own `chan` (the fork server's control channel is
    # detached in a kernel, so a gc scan for any Channel finds a dead one first)
    "_ch = _f.f_locals.get('chan') or [o for o in _gc.get_objects()\n"
    "       if type(o).__name__ == 'Channel' and o.sock.fileno() >= 0][0]\n"
    "def raw(b):\n"
    "    _ch.sock.sendall(b)\n"
    "def forge(**m):\n"
    "    _ch.send(m)\n"
    "def result(**over):\n"
    "    m = dict(op='result', id=_rq['id'], ok=True, stdout='', stderr='', error=None,\n"
    "             variables=[], images=[], answer=None, duration_s=0.0)\n"
    "    m.update(over)\n"
    "    forge(**m)\n"
)

PNG_BOMB_CODE = (
    "_z, _st = _i('zlib'), _i('struct')\n"
    "def _chunk(t, d):\n"
    "    return _st.pack('>I', len(d)) + t + d + _st.pack('>I', _z.crc32(t + d) & 0xffffffff)\n"
    "def png_bomb(side):\n"
    "    co = _z.compressobj(9)\n"
    "    row = bytes(side + 1)\n"
    "    idat = b''.join([co.compress(row) for _ in range(side)] + [co.flush()])\n"
    "    return (b'\\x89PNG\\r\\n\\x1a\\n' + _chunk(b'IHDR', _st.pack('>IIBBBBB', side, side, 8, 0, 0, 0, 0))\n"
    "            + _chunk(b'IDAT', idat) + _chunk(b'IEND', b''))\n"
)


def png_bomb(side: int) -> bytes:
    """A valid grayscale PNG of side x side zeros: a few hundred KB that decode to side**2 bytes."""
    def chunk(t: bytes, d: bytes) -> bytes:
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    co = zlib.compressobj(9)
    row = bytes(side + 1)
    idat = b"".join([co.compress(row) for _ in range(side)] + [co.flush()])
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def make_frames(n: int = 1, h: int = 48, w: int = 64) -> list[Frame]:
    """n small RGB-D frames with poses."""
    K = np.array([[50.0, 0, w / 2], [0, 50.0, h / 2], [0, 0, 1]])
    cam = CameraModel(width=w, height=h, K=K, frame_id="camera_color_optical_frame")
    return [Frame(stamp_ns=1_000_000_000 + i, rgb=np.full((h, w, 3), 10 * i, np.uint8), camera=cam,
                  depth=np.full((h, w), 1.0, np.float32), fixed_frame="odom", T_fixed_camera=np.eye(4))
            for i in range(n)]


def closed_port() -> int:
    """A loopback port nobody listens on."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _status_kb(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


class PeakRss:
    """How far this process's peak RSS rose above its RSS at the start (kB), via VmHWM."""

    def __enter__(self) -> "PeakRss":
        try:                                   # reset the high-water mark of this process only
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass
        self.start_kb = _status_kb("VmRSS")
        self.growth_kb = 0
        return self

    def __exit__(self, *exc: object) -> None:
        self.growth_kb = max(0, _status_kb("VmHWM") - self.start_kb)


@pytest.fixture(scope="module")
def pool() -> Iterator[KernelPool]:
    """A sandboxed pool (mode auto) with one warm kernel."""
    p = KernelPool(SandboxConfig(mode="auto", memory_mb=2048, cpu_s=120), size=1)
    yield p
    p.close()


@pytest.fixture
def cfg(tmp_path: Path) -> Config:
    """A config with a temporary transcript dir and a VLM nobody listens on."""
    c = Config()
    c.vlm.base_url = f"http://127.0.0.1:{closed_port()}/v1"
    c.vlm.retries = 0
    c.vlm.timeout_s = 5.0
    c.agent.transcript_dir = str(tmp_path / "transcripts")
    c.agent.cell_timeout_s = 30.0
    c.agent.query_timeout_s = 120.0
    c.sandbox.pool_size = 1
    return c


def transcript_events(path: str | Path) -> list[dict[str, Any]]:
    """The JSONL events of a transcript (its .html or .jsonl path)."""
    p = Path(str(path).replace(".html", ".jsonl"))
    return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]


def only_jsonl(directory: str | Path) -> Path:
    """The one transcript JSONL in a directory."""
    files = sorted(Path(directory).glob("*.jsonl"))
    assert len(files) == 1, files
    return files[0]


def kernel_alive(pid: int | None) -> bool:
    """Whether a process id is alive (and not a zombie)."""
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


__all__ = ["PRELUDE", "PNG_BOMB_CODE", "PeakRss", "cfg", "closed_port", "kernel_alive",
           "make_frames", "only_jsonl", "png_bomb", "pool", "transcript_events", "os"]
