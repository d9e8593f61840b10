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
import os
import select
import socket
from typing import Any

import numpy as np

from spatialclaw_ros.kernel import shm

INLINE_MAX = 64 * 1024
PACKET_MAX = 60 * 1024
MAX_FDS = 200
BODY_MAX = 64 * 1024 * 1024


class ProtocolError(RuntimeError):
    """The other side sent something that is not a valid message."""


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
        if obj is None or isinstance(obj, (bool, int, float, str)):
            if isinstance(obj, float) and not np.isfinite(obj):
                return {"__float__": repr(obj)}
            return obj
        if isinstance(obj, np.ndarray):
            return self.array(obj)
        if isinstance(obj, np.generic):
            return self.walk(obj.item())
        if isinstance(obj, (bytes, bytearray, memoryview)):
            return {"__bytes__": base64.b64encode(bytes(obj)).decode("ascii")}
        if isinstance(obj, dict):
            out = {}
            for k, v in obj.items():
                if not isinstance(k, str):
                    raise TypeError(f"message keys must be str, got {type(k).__name__}")
                out[k] = self.walk(v)
            return out
        if isinstance(obj, (list, tuple)):
            return [self.walk(v) for v in obj]
        raise TypeError(f"cannot send a {type(obj).__name__} through the kernel channel "
                        "(use numbers, str, bytes, lists, dicts and numpy arrays)")

    def array(self, a: np.ndarray) -> dict[str, Any]:
        dt = shm.check_dtype(a.dtype)
        if a.nbytes < INLINE_MAX:
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
            return {"__nd__": idx, "dtype": dt.str, "shape": list(a.shape), "offset": found[1]}
        ref: dict[str, Any] = {"__nd__": None, "dtype": dt.str, "shape": list(a.shape)}
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

    def fileno(self) -> int:
        """The socket's descriptor (for poll)."""
        return self.sock.fileno()

    def send(self, obj: dict[str, Any]) -> None:
        """Send one message; arrays go by shared memory."""
        msg, fds, owned = encode(obj)
        body_fd = -1
        try:
            data = json.dumps(msg, separators=(",", ":"), allow_nan=False).encode()
            if len(data) + 1 > PACKET_MAX:
                body_fd = os.memfd_create("spatialclaw-msg", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
                view = memoryview(data)
                while view:
                    view = view[os.write(body_fd, view):]
                import fcntl

                fcntl.fcntl(body_fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW
                            | fcntl.F_SEAL_WRITE | fcntl.F_SEAL_SEAL)
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
                    if self.untrusted_peer and not shm.is_sealed(body_fd):
                        raise ProtocolError("message body is not sealed")
                    size = os.fstat(body_fd).st_size
                    if size > BODY_MAX:
                        raise ProtocolError(f"message too large ({size} bytes)")
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
        try:
            msg = decode(rest, fds, untrusted=self.untrusted_peer)
        except (shm.ShmError, ValueError, TypeError, OSError, RecursionError) as exc:
            raise ProtocolError(f"malformed message: {type(exc).__name__}: {exc}") from exc
        if not isinstance(msg, dict):
            raise ProtocolError("message is not an object")
        return msg

    def close(self) -> None:
        """Close the socket."""
        try:
            self.sock.close()
        except OSError:
            pass
