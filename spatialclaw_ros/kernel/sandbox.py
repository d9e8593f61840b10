"""OS isolation of the kernel: which layers this host offers, and applying them in the kernel.

Layers (see docs/sandbox.md; `namespaces.py` builds the namespaces):
  identity   the kernel is unprivileged as seen from the host (uid 65534 or the node's own uid, not
             uid 0 of a namespace that owns host files), with every capability set empty
  userns     own user namespace (how a root or non-root node gets the namespaces below)
  pidns      own PID namespace: no other process of the host is visible or reachable
  ipcns      own IPC namespace: SysV and POSIX IPC of the host out of reach, gone with the kernel
  mountns    a minimal read-only view (interpreter, libraries, package) and a private, size-capped
             tmpfs scratch that disappears with the kernel
  procns     its own /proc (hidepid=2: not even sibling kernels are listed)
  netns      own network namespace: no interfaces at all, not even loopback
  landlock   file system read-only beneath the interpreter/library dirs, writable only in scratch;
             TCP denied (ABI >= 4); signals and abstract Unix sockets scoped (ABI >= 6)
  seccomp    default-deny allow-list with argument filters (seccomp.py)
  rlimits    address space, CPU seconds, open files, processes, file size, no core dumps
  env-scrub  the child gets an allow-listed environment: no keys, tokens or ROS_* variables
  pgroup     the kernel leads its own process group; the parent kills the whole group
"""
from __future__ import annotations

import ctypes
import os
import re
import resource
import subprocess
import sys
import threading
from typing import Any

from spatialclaw_ros.kernel import landlock, namespaces, seccomp

ALL_LAYERS = ["identity", "userns", "pidns", "ipcns", "mountns", "procns", "netns", "landlock",
              "seccomp", "rlimits", "env-scrub", "pgroup"]
# What `sandbox.mode: strict` requires: each protection needs one of its layers.
PROTECTIONS: dict[str, tuple[str, ...]] = {
    "no privilege over the host": ("identity",),
    "other processes out of reach": ("pidns",),
    "host IPC out of reach": ("ipcns",),
    "file system view and scratch quota": ("mountns",),
    "network": ("netns",),
    "syscall allow-list": ("seccomp",),
    "resource limits": ("rlimits",),
    "secrets in environment": ("env-scrub",),
}
# What a container needs so that `strict` runs (docs/sandbox.md "Docker"): the kernel's fork server
# creates user/PID/IPC/mount/net/UTS namespaces, mounts tmpfs/proc/binds in them, and installs
# seccomp and Landlock itself. Docker's default seccomp profile and AppArmor profile refuse the
# first two; a dedicated AppArmor profile (docker/apparmor/spatialclaw-kernel) is the narrower fix.
DOCKER_REQUIREMENTS: dict[str, Any] = {
    "security_opt": ["seccomp=unconfined", "apparmor=unconfined", "systempaths=unconfined"],
    "apparmor_profile_instead_of_unconfined": "spatialclaw-container (config/apparmor/)",
    "cap_add": [],
    "host_sysctls": {"user.max_user_namespaces": "> 0"},
    "why": {"seccomp": "Docker's default profile blocks unshare/clone with namespace flags and "
                       "mount; the kernels install their own, stricter allow-list",
            "apparmor": "docker-default denies mount (tmpfs, proc, binds) inside the container",
            "systempaths": "masked /proc paths forbid a fresh procfs in the kernels' PID namespace"},
}


def expected_layers(*, root: bool, userns: bool, namespaces_ok: bool, landlock_ok: bool) -> set[str]:
    """The layers a kernel must have on a host class (docs/sandbox.md "Host classes"; tested)."""
    out = {"identity", "seccomp", "rlimits", "env-scrub", "pgroup"}
    if userns:
        out.add("userns")
    if userns or (root and namespaces_ok):
        out |= {"pidns", "ipcns", "mountns", "netns"}
    if landlock_ok:
        out.add("landlock")
    return out


_ENV_KEEP = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ")
_SECRET = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH|COOKIE|SESSION)"
                     r"|^(ROS_|RMW_|AMENT_|FASTDDS_|CYCLONEDDS_|SPATIALCLAW_|AWS_|GOOGLE_|AZURE_"
                     r"|OPENAI_|HF_|HUGGING)", re.IGNORECASE)


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The kernel's environment: an allow-list, single-threaded BLAS, no ROS re-exec, no secrets."""
    env = {k: os.environ[k] for k in _ENV_KEEP if k in os.environ and not _SECRET.search(k)}
    env.setdefault("PATH", "/usr/bin:/bin")
    env.update({
        "HOME": "/nonexistent",
        "LANG": env.get("LANG", "C.UTF-8"),
        "_ROS_WHEELS_BOOTSTRAP_COMPLETE": "1",   # the venv's .pth would re-exec python otherwise
        "PYTHONDONTWRITEBYTECODE": "1",
        "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        "NUMEXPR_NUM_THREADS": "1",
    })
    for k, v in (extra or {}).items():
        if _SECRET.search(k):
            raise ValueError(f"refusing to pass {k} to the kernel: it looks like a secret")
        env[k] = v
    return env


def is_secret_name(name: str) -> bool:
    """True for environment variable names that must never reach the kernel."""
    return bool(_SECRET.search(name))


# ------------------------------------------------------------------------------ detection (parent)
_detect_lock = threading.Lock()
_detected: dict[str, str] | None = None

_PROBE = r"""
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
out = []
if os.fork() == 0:       # a child: the probe's namespaces must not leak into this process
    os._exit(0 if libc.unshare(0x10000000 | 0x6C020000) == 0 else 100 + ctypes.get_errno())
_, st = os.wait()
code = os.waitstatus_to_exitcode(st)
out.append("userns" if code == 0 else "userns:" + str(code - 100))
if code != 0 and os.geteuid() == 0:
    if os.fork() == 0:
        os._exit(0 if libc.unshare(0x6C020000) == 0 else 100 + ctypes.get_errno())
    _, st = os.wait()
    code = os.waitstatus_to_exitcode(st)
    out.append("ns" if code == 0 else "ns:" + str(code - 100))
print(" ".join(out))
"""


def detect_sandbox_layers(*, refresh: bool = False) -> dict[str, str]:
    """Layer -> "available" or "unavailable: why", for this OS and user (probes once, cached)."""
    global _detected
    with _detect_lock:
        if _detected is not None and not refresh:
            return dict(_detected)
        res: dict[str, str] = {}
        try:
            out = subprocess.run([sys.executable, "-I", "-S", "-c", _PROBE], env=child_env(),
                                 capture_output=True, text=True, timeout=20).stdout.split()
        except (OSError, subprocess.SubprocessError) as exc:
            out = [f"probe:{exc}"]
        errs = {w.split(":")[0]: w.split(":", 1)[1] for w in out if ":" in w}
        root = os.geteuid() == 0
        res["identity"] = "available"
        if "userns" in out:
            res["userns"] = "available"
        else:
            res["userns"] = (f"unavailable: unshare(CLONE_NEWUSER) failed "
                             f"({_errname(errs.get('userns', '?'))}); unprivileged user namespaces "
                             "are off or restricted (AppArmor kernel.apparmor_restrict_unprivileged_"
                             "userns, a container's seccomp profile, or user.max_user_namespaces=0)")
        ns_ok = "userns" in out or "ns" in out
        why_ns = ("needs a user namespace (non-root node)" if not root else
                  f"unshare failed ({_errname(errs.get('ns', '?'))})")
        for layer in ("pidns", "ipcns", "mountns", "procns", "netns"):
            res[layer] = "available" if ns_ok else f"unavailable: {why_ns}"
        abi = landlock.abi_version()
        res["landlock"] = f"available (ABI {abi})" if abi else (
            "unavailable: kernel < 5.13 or 'landlock' not in the lsm= boot parameter")
        why = seccomp.supported()
        res["seccomp"] = "available" if not why else f"unavailable: {why}"
        res["rlimits"] = "available"
        res["env-scrub"] = "available"
        res["pgroup"] = "available"
        _detected = res
        return dict(res)


def _errname(code: str) -> str:
    try:
        import errno

        return errno.errorcode.get(int(code), code)
    except ValueError:
        return code


def missing_protections(active: list[str]) -> list[str]:
    """Protections with none of their layers active (what strict mode refuses)."""
    return [p for p, layers in PROTECTIONS.items() if not any(x in active for x in layers)]


# ------------------------------------------------------------------------------ applying (child)
_libc = ctypes.CDLL(None, use_errno=True)


def _prctl(option: int, arg: int) -> None:
    if _libc.prctl(option, arg, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


_server: dict[str, Any] = {"ns": None, "opts": {}}


def set_server_state(ns: "namespaces.NsState", opts: dict[str, Any]) -> None:
    """In the fork server: what its namespaces are (every kernel forked from it inherits this)."""
    _server["ns"] = ns
    _server["opts"] = dict(opts)


def _identity_deferred() -> bool:
    """Root node without any namespace: the kernel becomes nobody at "init" (after chowning scratch)."""
    ns = _server["ns"]
    return os.geteuid() == 0 and ns is not None and not ns.userns and not ns.pidns


def apply_early(parent_pid: int, mode: str) -> tuple[list[str], list[str]]:
    """In a fresh kernel, before heavy work: die with the parent, scratch, identity. (layers, notes)."""
    layers, notes = [], []
    _prctl(1, 9)                      # PR_SET_PDEATHSIG = SIGKILL
    if os.getppid() != parent_pid:
        os._exit(3)
    if os.getpgrp() == os.getpid():
        layers.append("pgroup")
    else:
        notes.append("pgroup: the kernel does not lead its own process group")
    layers.append("env-scrub")
    if mode == "off":
        return layers, notes
    ns = _server["ns"] or namespaces.NsState()
    opts = _server["opts"]
    layers += [x for x in ns.layers if x not in layers]
    root = os.geteuid() == 0
    try:
        if ns.mountns:
            namespaces.private_scratch(int(opts.get("max_file_mb", 256)),
                                       uid=None if ns.userns else namespaces.NOBODY)
        if ns.userns:
            namespaces.drop_privileges()
        elif root and ns.pidns:
            namespaces.drop_privileges(namespaces.NOBODY)
        elif not root:
            namespaces.drop_privileges()
    except OSError as exc:
        notes.append(f"identity: {exc}")
    if not _identity_deferred():
        _check_identity(layers, notes)
    try:
        _prctl(4, 0)                  # PR_SET_DUMPABLE = 0: siblings cannot ptrace or read us
    except OSError as exc:
        notes.append(f"PR_SET_DUMPABLE: {exc}")
    return layers, notes


def _check_identity(layers: list[str], notes: list[str]) -> None:
    """Add "identity" when this process is unprivileged as seen from the host."""
    caps = namespaces.capabilities()
    ns = _server["ns"]
    outside = ns.outside_uid if ns is not None and ns.userns else os.geteuid()
    if outside != 0 and caps.get("CapEff", 1) == 0 and caps.get("CapPrm", 1) == 0:
        if "identity" not in layers:
            layers.insert(0, "identity")
    else:
        notes.append(f"identity: the kernel is uid {outside} as seen from the host with "
                     f"CapEff {caps.get('CapEff', 0):x}")


def kernel_scratch(requested: str) -> str:
    """The scratch dir the kernel uses: its private tmpfs where it has one, else the parent's dir."""
    ns = _server["ns"]
    if ns is not None and ns.mountns and _server["opts"].get("mode") != "off":
        return namespaces.SCRATCH
    return requested


def read_paths(package_dir: str) -> list[str]:
    """Directories and files the kernel may read: interpreter, libraries, our package, /proc."""
    paths = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix,
                                           os.path.dirname(sys.executable))}
    for p in sys.path:
        if p and (p.endswith(("site-packages", "lib-dynload", ".zip"))
                  or os.path.basename(p).startswith("python3")):
            paths.add(os.path.realpath(p))
    paths.add(os.path.realpath(package_dir))
    paths.add(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
    paths.update(["/usr", "/lib", "/lib64", "/lib32", "/etc/ld.so.cache", "/etc/localtime",
                  "/etc/ssl/certs", "/proc", "/sys/devices/system/cpu", "/dev/urandom",
                  "/dev/random", "/dev/zero"])
    return sorted(p for p in paths if os.path.exists(p))


def apply_warm(opts: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Before "ready" (no scratch needed): no_new_privs, seccomp, rlimits. (layers, notes)."""
    layers: list[str] = []
    notes: list[str] = []
    if opts.get("mode") == "off":
        return layers, notes
    try:
        _prctl(38, 1)                 # PR_SET_NO_NEW_PRIVS (Landlock and seccomp need it)
    except OSError as exc:
        notes.append(f"no_new_privs: {exc}")
    try:
        seccomp.install(os.getpid(), identity_drop=_identity_deferred())
        layers.append("seccomp")
    except OSError as exc:
        notes.append(f"seccomp: {exc}")
    try:
        mb = 1024 * 1024
        used = resource.getrusage(resource.RUSAGE_SELF)
        # RLIMIT_CPU counts the process's whole life: add what it used before model code.
        cpu = int(opts["cpu_s"]) + int(used.ru_utime + used.ru_stime + 1)
        for lim, soft, hard in (
                (resource.RLIMIT_AS, int(opts["memory_mb"]) * mb, int(opts["memory_mb"]) * mb),
                (resource.RLIMIT_CPU, cpu, cpu + 5),
                (resource.RLIMIT_NOFILE, int(opts["max_open_files"]), int(opts["max_open_files"])),
                (resource.RLIMIT_NPROC, int(opts["max_processes"]), int(opts["max_processes"])),
                (resource.RLIMIT_FSIZE, int(opts["max_file_mb"]) * mb, int(opts["max_file_mb"]) * mb),
                (resource.RLIMIT_CORE, 0, 0)):
            resource.setrlimit(lim, (soft, hard))
        layers.append("rlimits")
    except (OSError, ValueError, KeyError) as exc:
        notes.append(f"rlimits: {exc}")
    return layers, notes


def apply_late(opts: dict[str, Any], scratch_dir: str, read_only: list[str]) -> tuple[list[str], list[str]]:
    """Once the scratch dir is known: Landlock. (layers, notes); never raises."""
    layers: list[str] = []
    notes: list[str] = []
    if opts.get("mode") == "off":
        return layers, notes
    from spatialclaw_ros.kernel import shm

    shm.set_block_dir(scratch_dir)     # memfd_create is denied: blocks live in the capped scratch
    if _identity_deferred():           # root without namespaces: become nobody now
        try:
            os.chown(scratch_dir, namespaces.NOBODY, namespaces.NOBODY)
            namespaces.drop_privileges(namespaces.NOBODY)
            seccomp.install_program(seccomp.deny_filter(seccomp.IDENTITY_DROP))
            _check_identity(layers, notes)
        except OSError as exc:
            notes.append(f"identity: could not become uid {namespaces.NOBODY}: {exc}")
    nthreads = len(os.listdir("/proc/self/task"))
    if nthreads != 1:
        notes.append(f"the kernel has {nthreads} threads when sandboxing; Landlock binds only the "
                     "calling thread")
    try:
        rep = landlock.restrict(read_only, [scratch_dir], ["/dev/null"])
        layers.append("landlock")
        extra = []
        if not rep.network:
            extra.append("TCP not covered (ABI < 4)")
        if not rep.signal_scope:
            extra.append("signal scoping absent (ABI < 6)")
        notes.append(f"landlock ABI {rep.abi}" + (": " + ", ".join(extra) if extra else ""))
    except OSError as exc:
        notes.append(f"landlock: {exc}")
    return layers, notes
