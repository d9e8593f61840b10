"""Helpers of the escape suite (a uniquely named module: test dirs are not packages)."""
from __future__ import annotations

import os

import pytest

from spatialclaw_ros.kernel import check_code

SECRETS = {"SPATIALCLAW_VLM_API_KEY": "sk-probe-secret-1", "MY_SERVICE_TOKEN": "tok-probe-secret-2"}
# Gets os, ctypes and open without an import statement, __builtins__ name or dunder attribute.
PRELUDE = """\
_B = getattr(np, '__buil' + 'tins__')
_imp = _B['__imp' + 'ort__']
os = _imp('o' + 's')
op = _B['op' + 'en']
ct = np.ctypeslib.ctypes
libc = ct.CDLL(None, use_errno=True)
libc.syscall.restype = ct.c_long
def T(f, *a):
    try:
        return 'ok:' + str(f(*a))[:60]
    except BaseException as e:
        return 'err:' + type(e).__name__
def S(*a):
    r = libc.syscall(*[ct.c_long(x) if isinstance(x, int) else x for x in a])
    return 'ok:' + str(r) if r >= 0 else 'err:' + str(ct.get_errno())
"""
def host_class() -> str:
    """root or uid<N>, plus the features a simulated weaker host denies (scripts/degrade.py)."""
    who = "root" if os.geteuid() == 0 else f"uid{os.geteuid()}"
    sim = os.environ.get("SPATIALCLAW_SIMULATED_HOST", "")
    return who + (f"-no-{sim.replace(',', '-no-')}" if sim else "")


def code_of(body: str) -> str:
    """Probe code with the prelude; asserts the static check lets it through (the OS must hold)."""
    code = PRELUDE + body
    assert check_code(code) == [], check_code(code)
    return code


def proc_field(pid: int, path: str, prefix: str) -> str:
    """A line of /proc/<pid>/<path> that starts with prefix (host view)."""
    with open(f"/proc/{pid}/{path}") as f:
        for line in f:
            if line.startswith(prefix):
                return line.strip()
    return ""


def meminfo_kb(key: str) -> int:
    """A /proc/meminfo field of the host, in kB."""
    with open("/proc/meminfo") as f:
        return int(next(x for x in f if x.startswith(key + ":")).split()[1])


def NR(name: str) -> int:  # noqa: N802 - reads like a constant in probe code
    """This machine's syscall number for name (x86_64 or aarch64)."""
    from spatialclaw_ros.kernel import seccomp

    n = seccomp.nr(name, seccomp.machine() or "x86_64")
    if n is None:
        pytest.skip(f"no {name} syscall on this architecture")
    return n
