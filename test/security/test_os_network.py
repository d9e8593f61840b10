"""Escape probes: the network, of every family, by sockets, numpy, OpenCV and raw syscalls."""
from __future__ import annotations

import os
import socket
import threading
import time

import pytest
from security_helpers import NR

NET = pytest.mark.probe(category="network")


class Catcher:
    """Loopback TCP + UDP + Unix (path and abstract) listeners that count what reaches them."""

    def __init__(self, tmp_path) -> None:  # noqa: ANN001
        self.hits: list[str] = []
        self.tcp = socket.socket()
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(8)
        self.port = self.tcp.getsockname()[1]
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.uport = self.udp.getsockname()[1]
        os.chmod(tmp_path, 0o755)
        self.path = str(tmp_path / "probe.sock")
        self.unix = socket.socket(socket.AF_UNIX)
        self.unix.bind(self.path)
        os.chmod(self.path, 0o777)
        self.unix.listen(8)
        self.abstract = "\0spatialclaw-probe-%d" % os.getpid()
        self.abs = socket.socket(socket.AF_UNIX)
        self.abs.bind(self.abstract)
        self.abs.listen(8)
        for s in (self.tcp, self.udp, self.unix, self.abs):
            s.settimeout(0.1)
        self._stop = False
        self._t = threading.Thread(target=self._loop, daemon=True)
        self._t.start()

    def _loop(self) -> None:
        while not self._stop:
            for name, s in (("tcp", self.tcp), ("unix", self.unix), ("abstract", self.abs)):
                try:
                    c, _ = s.accept()
                    self.hits.append(name)
                    c.close()
                except OSError:
                    pass
            try:
                self.udp.recvfrom(100)
                self.hits.append("udp")
            except OSError:
                pass

    def settle(self) -> list[str]:
        time.sleep(0.4)
        return self.hits

    def close(self) -> None:
        self._stop = True
        self._t.join(2)
        for s in (self.tcp, self.udp, self.unix, self.abs):
            s.close()


@pytest.fixture
def catcher(tmp_path):  # noqa: ANN001,ANN201
    c = Catcher(tmp_path)
    yield c
    c.close()


@NET
def test_tcp_connect_via_socket_module(run, catcher) -> None:  # noqa: ANN001
    run(f"sk = _imp('soc' + 'ket')\nprint(T(sk.create_connection, ('127.0.0.1', {catcher.port}), 1))")
    assert catcher.settle() == []


@NET
def test_udp_sendto(run, catcher) -> None:  # noqa: ANN001
    run(f"sk = _imp('soc' + 'ket')\n"
        f"print(T(lambda: sk.socket(2, 2).sendto(b'x', ('127.0.0.1', {catcher.uport}))))")
    assert catcher.settle() == []


@NET
def test_unix_pathname_socket(run, catcher) -> None:  # noqa: ANN001
    run(f"sk = _imp('soc' + 'ket')\nprint(T(lambda: sk.socket(1).connect({catcher.path!r})))")
    assert catcher.settle() == []


@NET
def test_abstract_unix_socket(run, catcher) -> None:  # noqa: ANN001
    run(f"sk = _imp('soc' + 'ket')\nprint(T(lambda: sk.socket(1).connect({catcher.abstract!r})))")
    assert catcher.settle() == []


@NET
@pytest.mark.parametrize("family,kind,proto", [(16, 3, 0), (17, 3, 768), (10, 1, 0), (2, 3, 1),
                                               (40, 1, 0), (38, 5, 0), (9, 3, 0), (2, 2, 0)],
                         ids=["netlink", "packet", "inet6", "raw-icmp", "vsock", "alg", "ax25", "udp"])
def test_socket_of_every_family_via_ctypes(run, family, kind, proto) -> None:  # noqa: ANN001
    out = run(f"print(libc.socket({family}, {kind}, {proto}), ct.get_errno())")
    assert out[0].split()[0] == "-1"


@NET
def test_raw_syscall_and_x32_abi(run, catcher) -> None:  # noqa: ANN001
    sock = NR("socket")
    out = run(f"print(S({sock}, 2, 1, 0))\nprint(S({sock} | 0x40000000, 2, 1, 0))\n"
              f"print(S({NR('socketpair')}, 1, 1, 0, (ct.c_int * 2)()))")
    assert all(x.startswith("err:") for x in out), out
    assert catcher.settle() == []


@NET
def test_opencv_and_numpy_urls(run, catcher) -> None:  # noqa: ANN001
    run(f"cap = cv2.VideoCapture('http://127.0.0.1:{catcher.port}/x.mjpg')\nprint(cap.isOpened())\n"
        f"print(T(np.lib.npyio.DataSource().open, 'http://127.0.0.1:{catcher.port}/a.txt'))")
    assert catcher.settle() == []


@NET
def test_io_uring_and_bpf(run) -> None:  # noqa: ANN001
    out = run(f"params = (ct.c_char * 120)()\nprint(S({NR('io_uring_setup')}, 8, params))\n"
              f"print(S({NR('bpf')}, 0, 0, 0))")
    assert all(x.startswith("err:") for x in out), out


@pytest.mark.probe(category="network", needs=('netns',))
def test_no_interfaces_and_no_host_sockets_listed(run, catcher) -> None:  # noqa: ANN001
    out = run("print(T(lambda: op('/proc/net/tcp').read().count(':%04X' % " + str(catcher.port) + ")))\n"
              "print(T(lambda: sorted(os.listdir('/sys/class/net'))))")
    assert out[0] in ("ok:0", "err:FileNotFoundError", "err:PermissionError"), out
