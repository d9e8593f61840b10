"""The parent <-> kernel channel: JSON messages over a Unix SOCK_SEQPACKET pair, arrays by memfd.

One packet is one message. Its first byte says where the JSON is: ``J`` inline, ``M`` in a sealed
memfd carried as the first descriptor (large messages). Numpy arrays in a message are replaced by
``{"__nd__": i, "dtype", "shape", "offset"}`` pointing at descriptor ``i`` (a memfd, see shm.py);
small arrays (< 64 KiB) and bytes travel inline as base64. Nothing is pickled: the parent never
unpickles what the untrusted kernel sends, and it maps only sealed blocks from it.
"""
from __future__ import annotations

import base64
import json
import math
import os
import re
import select
import socket
import threading
from typing import Any

import numpy as np

from spatialclaw_ros.kernel import shm

INLINE_MAX = 64 * 1024
PACKET_MAX = 60 * 1024
MAX_FDS = 200
BODY_MAX = 64 * 1024 * 1024
# What the parent accepts from the untrusted kernel, checked on the raw bytes BEFORE json parses
# them: a body of at most UNTRUSTED_BODY_MAX bytes, at most MAX_CONTAINERS objects/arrays, at most
# MAX_ITEMS values in them and nesting at most MAX_DEPTH deep (strings excluded from the scan). So
# `{"variables": [{}, {}, ...]}` cannot make the parent build millions of objects.
UNTRUSTED_BODY_MAX = 24 * 1024 * 1024
MAX_CONTAINERS = 20_000
MAX_ITEMS = 200_000
MAX_DEPTH = 32
UNTRUSTED_MAPPED_MAX = 4 * 1024 ** 3    # shared blocks one kernel message may have the parent map
# A sandboxed kernel cannot make memfds (denied), so its blocks are unsealed scratch files that the
# parent copies into private memory: their total size is checked, before anything is read, against
# this smaller budget (the copy skips holes, so a sparse block costs only the data it holds).
UNTRUSTED_COPIED_MAX = 1024 ** 3
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_BRACKET = re.compile(rb"[\[\]{}]")


_stats_lock = threading.Lock()
_stats = {"arrays_shared": 0, "bytes_shared": 0, "arrays_copied": 0, "bytes_copied": 0,
          "arrays_inline": 0, "bytes_inline": 0}


def copy_stats() -> dict[str, int]:
    """Process-wide counts of arrays encoded since start: by descriptor (shared, no copy), copied
    into a fresh memfd, or inline (< 64 KiB, base64). Take two snapshots and diff them."""
    with _stats_lock:
        return dict(_stats)


def _count(kind: str, nbytes: int) -> None:
    with _stats_lock:
        _stats["arrays_" + kind] += 1
        _stats["bytes_" + kind] += int(nbytes)


class ProtocolError(RuntimeError):
    """The other side sent something that is not a valid message (the text says what)."""


def check_structure(data: bytes) -> None:
    """Bound a message's size, object count, item count and depth before it is parsed.

    Raises ProtocolError. Works on the raw JSON bytes: string contents are blanked first (a regex,
    C speed), so braces printed by a cell do not count; what is left is punctuation and numbers.
    """
    if len(data) > UNTRUSTED_BODY_MAX:
        raise ProtocolError(f"message too large ({len(data)} bytes > {UNTRUSTED_BODY_MAX})")
    bare = _STRING.sub(b'""', data)
    opens = bare.count(b"{") + bare.count(b"[")
    if opens > MAX_CONTAINERS:
        raise ProtocolError(f"message has too many objects/arrays ({opens} > {MAX_CONTAINERS})")
    items = bare.count(b",") + bare.count(b":")
    if items > MAX_ITEMS:
        raise ProtocolError(f"message has too many values ({items} > {MAX_ITEMS})")
    depth = 0
    for m in _BRACKET.finditer(bare):
        if m.group() in (b"{", b"["):
            depth += 1
            if depth > MAX_DEPTH:
                raise ProtocolError(f"message nests deeper than {MAX_DEPTH} levels")
        else:
            depth -= 1


class ChannelClosed(EOFError):
    """The other side closed the channel (the kernel exited or was killed)."""


def socket_pair() -> tuple[socket.socket, socket.socket]:
    """A connected (parent, child) pair of SOCK_SEQPACKET sockets."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    return a, b


class _Encoder:
    def __init__(self) -> None:
        self.fds: list[int] = []
        self.owned: list[int] = []           # descriptors to close after sending
        self.pending: list[tuple[np.ndarray, dict[str, Any]]] = []
        self.shared: dict[int, int] = {}     # block's read-only fd -> index in fds
        self.keep: list[np.ndarray] = []     # arrays whose blocks' descriptors are being sent

    def walk(self, obj: Any) -> Any:
        t = type(obj)
        if t is str or t is int or t is bool or obj is None:
            return obj
        if t is float:
            return obj if math.isfinite(obj) else {"__float__": repr(obj)}
        if t is list or t is tuple:
            # a list of plain numbers/str (camera matrices, stamps) goes as it is, not rebuilt
            for v in obj:
                tv = type(v)
                if tv is float:
                    if not math.isfinite(v):
                        break
                elif not (tv is int or tv is str or tv is bool or v is None):
                    break
            else:
                return obj
            return [self.walk(v) for v in obj]
        if t is dict:
            out = {}
            for k, v in obj.items():
                if type(k) is not str:
                    raise TypeError(f"message keys must be str, got {type(k).__name__}")
                tv = type(v)     # plain scalars inline: a frame message has thousands of them
                out[k] = v if (tv is str or tv is int or tv is bool or v is None
                               or (tv is float and math.isfinite(v))) else self.walk(v)
            return out
        if isinstance(obj, np.ndarray):
            return self.array(obj)
        if isinstance(obj, (bool, int, float, str)):       # subclasses (IntEnum, np.float64)
            if isinstance(obj, float):
                return self.walk(float(obj))
            return obj
        if isinstance(obj, np.generic):
            return self.walk(obj.item())
        if isinstance(obj, (bytes, bytearray, memoryview)):
            return {"__bytes__": base64.b64encode(bytes(obj)).decode("ascii")}
        if isinstance(obj, dict):
            return self.walk(dict(obj))
        if isinstance(obj, (list, tuple)):
            return [self.walk(v) for v in obj]
        raise TypeError(f"cannot send a {type(obj).__name__} through the kernel channel "
                        "(use numbers, str, bytes, lists, dicts and numpy arrays)")

    def array(self, a: np.ndarray) -> dict[str, Any]:
        dt = shm.check_dtype(a.dtype)
        if a.nbytes < INLINE_MAX:
            _count("inline", a.nbytes)
            data = np.ascontiguousarray(a).tobytes()
            return {"__nd__": -1, "dtype": dt.str, "shape": list(a.shape),
                    "b64": base64.b64encode(data).decode("ascii")}
        found = shm.find_block(a)
        if found is not None:
            # the block's own read-only descriptor: valid while the array lives, so a sender that
            # keeps the message for re-sending (KernelSession) keeps the arrays too
            src = found[0]
            idx = self.shared.get(src)
            if idx is None:
                self.fds.append(src)
                idx = self.shared[src] = len(self.fds) - 1
            self.keep.append(a)
            _count("shared", a.nbytes)
            return {"__nd__": idx, "dtype": dt.str, "shape": list(a.shape), "offset": found[1]}
        ref: dict[str, Any] = {"__nd__": None, "dtype": dt.str, "shape": list(a.shape)}
        _count("copied", a.nbytes)
        self.pending.append((np.ascontiguousarray(a), ref))
        return ref

    def finish(self) -> None:
        """Pack every array that needs copying into one sealed memfd."""
        if not self.pending:
            return
        fd, offsets = shm.pack_arrays([a for a, _ in self.pending])
        self.owned.append(fd)
        self.fds.append(fd)
        for (_, ref), off in zip(self.pending, offsets):
            ref["__nd__"] = len(self.fds) - 1
            ref["offset"] = off


def encode(obj: Any, keep: list[Any] | None = None) -> tuple[dict[str, Any], list[int], list[int]]:
    """(JSON-able message, descriptors to send, descriptors to close after sending).

    Arrays already in shared memory are sent by their block's own descriptor; `keep` (if given)
    receives those arrays, which must outlive any later re-send of the same descriptors.
    """
    enc = _Encoder()
    try:
        msg = enc.walk(obj)
        enc.finish()
        if keep is not None:
            keep.extend(enc.keep)
    except BaseException:
        for fd in enc.owned:
            os.close(fd)
        raise
    if len(enc.fds) > MAX_FDS:
        for fd in enc.owned:
            os.close(fd)
        raise ValueError(f"message holds too many shared blocks ({len(enc.fds)} > {MAX_FDS})")
    return msg, enc.fds, enc.owned


class Decoder:
    """Rebuilds arrays and bytes while the JSON is parsed, mapping each received memfd once."""

    def __init__(self, fds: list[int], *, untrusted: bool) -> None:
        self.fds = fds
        self.untrusted = untrusted
        self.maps: dict[int, Any] = {}
        self.mapped = 0
        if untrusted:
            self._check_budget()

    def _check_budget(self) -> None:
        """Refuse an untrusted message whose blocks are too large in total, before reading any."""
        mapped = copied = 0
        for fd in self.fds:
            try:
                size = os.fstat(fd).st_size
            except OSError as exc:
                raise shm.ShmError(f"shared block cannot be inspected: {exc}") from exc
            mapped += size
            if not shm.is_sealed(fd):
                copied += size
        if mapped > UNTRUSTED_MAPPED_MAX:
            raise shm.ShmError(f"the message's shared blocks exceed {UNTRUSTED_MAPPED_MAX} bytes "
                               f"({mapped} bytes)")
        if copied > UNTRUSTED_COPIED_MAX:
            raise shm.ShmError(f"the message's unsealed shared blocks exceed {UNTRUSTED_COPIED_MAX} "
                               f"bytes ({copied} bytes; they are copied)")

    def hook(self, obj: dict[str, Any]) -> Any:
        """json object_hook: called for every JSON object, innermost first."""
        if "__nd__" in obj:
            return self.array(obj)
        if "__bytes__" in obj:
            return base64.b64decode(obj["__bytes__"])
        if "__float__" in obj:
            return float(obj["__float__"])
        return obj

    def array(self, ref: dict[str, Any]) -> np.ndarray:
        idx = ref.get("__nd__")
        if idx == -1:
            dt = shm.check_dtype(ref.get("dtype", ""))
            data = base64.b64decode(ref.get("b64", ""))
            shape = ref.get("shape")
            arr = np.frombuffer(data, dtype=dt)
            try:
                return arr.reshape(shape)
            except (TypeError, ValueError) as exc:
                raise shm.ShmError(f"inline array does not fit shape {shape!r}") from exc
        if not isinstance(idx, int) or not 0 <= idx < len(self.fds):
            raise shm.ShmError(f"array refers to a missing shared block ({idx!r})")
        mm = self.maps.get(idx)
        if mm is None:
            mm = shm.map_readonly(self.fds[idx], require_sealed=self.untrusted)
            self.mapped += len(mm)
            if self.untrusted and self.mapped > UNTRUSTED_MAPPED_MAX:
                mm.close()
                raise shm.ShmError(f"the message's shared blocks exceed {UNTRUSTED_MAPPED_MAX} bytes")
            self.maps[idx] = mm
        return shm.view(mm, ref.get("dtype", ""), ref.get("shape"), ref.get("offset", 0))


def decode(data: bytes | str, fds: list[int], *, untrusted: bool) -> Any:
    """Parse a message, rebuilding arrays and bytes; closes the descriptors (maps stay)."""
    try:
        return json.loads(data, object_hook=Decoder(fds, untrusted=untrusted).hook)
    finally:
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass


class Channel:
    """One end of the kernel channel."""

    def __init__(self, sock: socket.socket, *, untrusted_peer: bool) -> None:
        self.sock = sock
        self.untrusted_peer = untrusted_peer
        # Shared-memory arrays sent by descriptor stay referenced while the channel lives: the
        # allocator returns a dead array's pages at once, which the peer would then read as zeros.
        self._sent_shared: list[np.ndarray] = []

    def fileno(self) -> int:
        """The socket's descriptor (for poll)."""
        return self.sock.fileno()

    def send(self, obj: dict[str, Any]) -> None:
        """Send one message; arrays go by shared memory."""
        msg, fds, owned = encode(obj, self._sent_shared)
        body_fd = -1
        try:
            data = json.dumps(msg, separators=(",", ":"), allow_nan=False).encode()
            if len(data) + 1 > PACKET_MAX:
                body_fd = shm.new_block_fd("spatialclaw-msg")   # in a kernel: a scratch file
                view = memoryview(data)
                while view:
                    view = view[os.write(body_fd, view):]
                shm.seal(body_fd)
                packet, fds = b"M", [body_fd] + fds
            else:
                packet = b"J" + data
            if fds:
                socket.send_fds(self.sock, [packet], fds)
            else:
                self.sock.sendall(packet)
        finally:
            for fd in owned:
                os.close(fd)
            if body_fd >= 0:
                os.close(body_fd)

    def poll(self, timeout_s: float | None) -> bool:
        """True when a message (or EOF) is waiting, within timeout_s."""
        r, _, _ = select.select([self.sock], [], [], timeout_s)
        return bool(r)

    def recv(self) -> dict[str, Any]:
        """Receive one message (blocking); ChannelClosed at EOF, ProtocolError if malformed."""
        try:
            data, fds, flags, _ = socket.recv_fds(self.sock, PACKET_MAX + 16, MAX_FDS + 1)
        except ConnectionResetError as exc:
            raise ChannelClosed("kernel channel reset") from exc
        if not data and not fds:
            if self.untrusted_peer:        # EOF, or a zero-length packet from a live kernel?
                try:
                    more = self.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
                except BlockingIOError:
                    raise ProtocolError("sent an empty packet") from None
                except OSError:
                    more = b""
                if more:
                    raise ProtocolError("sent an empty packet")
            raise ChannelClosed("kernel channel closed")
        try:
            if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
                raise ProtocolError("message truncated")
            kind, rest = data[:1], data[1:]
            if kind == b"M":
                if not fds:
                    raise ProtocolError("large message without its body")
                body_fd, fds = fds[0], fds[1:]
                try:
                    # read once with pread (a copy): sealing is not needed, and a sandboxed
                    # kernel cannot make memfds (their pages escape its memory limit)
                    size = os.fstat(body_fd).st_size
                    limit = UNTRUSTED_BODY_MAX if self.untrusted_peer else BODY_MAX
                    if size > limit:
                        raise ProtocolError(f"message too large ({size} bytes > {limit})")
                    rest = os.pread(body_fd, size, 0)
                finally:
                    os.close(body_fd)
            elif kind != b"J":
                raise ProtocolError(f"unknown packet kind {kind!r}")
        except ProtocolError:
            for fd in fds:
                os.close(fd)
            raise
        except OSError as exc:
            for fd in fds:
                os.close(fd)
            raise ProtocolError(f"malformed message: {exc}") from exc
        if self.untrusted_peer:
            try:
                check_structure(rest)
            except ProtocolError:
                for fd in fds:
                    os.close(fd)
                raise
        try:
            msg = decode(rest, fds, untrusted=self.untrusted_peer)
        except (shm.ShmError, ValueError, TypeError, OSError, RecursionError) as exc:
            raise ProtocolError(f"malformed message: {type(exc).__name__}: {exc}") from exc
        if not isinstance(msg, dict):
            raise ProtocolError("message is not an object")
        return msg

    def close(self) -> None:
        """Close the socket."""
        self._sent_shared = []
        try:
            self.sock.close()
        except OSError:
            pass


def prewarm_decoder(n_frames: int = 64) -> None:
    """Decode a frame-sized init message once, in a fresh kernel before it says "ready".

    A kernel is a fork: the first message that builds thousands of objects pays copy-on-write
    faults on the interpreter's heap (~1-2 ms for 32 frames here). Paying them while the kernel
    waits in the pool takes them off the query's critical path.
    """
    block = shm.pack_arrays([np.zeros(INLINE_MAX, np.uint8)])[0]
    try:
        ref = {"__nd__": 0, "dtype": "|u1", "shape": [INLINE_MAX], "offset": 0}
        cam = {"width": 640, "height": 480, "K": [[525.0, 0.0, 320.0], [0.0, 525.0, 240.0],
                                                  [0.0, 0.0, 1.0]], "D": [0.0] * 5,
               "distortion_model": "plumb_bob", "frame_id": "camera_optical_frame"}
        frame = {"rgb": ref, "depth": ref, "labels": None, "stamp_ns": 1, "camera": cam,
                 "T_fixed_camera": [[1.0, 0.0, 0.0, 0.0]] * 4}
        text = json.dumps({"op": "init", "frames": [frame] * n_frames,
                           "metadata": {"cameras": [cam] * n_frames}})
        for _ in range(2):
            decode(text, [os.dup(block)], untrusted=False)
    finally:
        os.close(block)
