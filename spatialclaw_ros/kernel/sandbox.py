"""OS isolation of the kernel child: which layers exist here, and applying them in the child.

Layers (see docs/sandbox.md):
  userns     own user namespace: no capabilities in the host namespace, RLIMIT_NPROC counted afresh
  netns      own network namespace: no interfaces at all, not even loopback
  landlock   file system read-only beneath the interpreter/library dirs, writable only in scratch;
             no other file readable; TCP denied (ABI >= 4); signals and abstract Unix sockets
             scoped to the kernel (ABI >= 6); no ptrace of processes outside the kernel
  seccomp    no new sockets, signals only to itself, no ptrace/setsid/namespaces/io_uring/...
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

from spatialclaw_ros.kernel import landlock, seccomp

ALL_LAYERS = ["userns", "netns", "landlock", "seccomp", "rlimits", "env-scrub", "pgroup"]
# What `sandbox.mode: strict` requires: each protection needs one of its layers.
PROTECTIONS: dict[str, tuple[str, ...]] = {
    "network": ("netns", "seccomp"),
    "file system": ("landlock",),
    "signals and ptrace": ("seccomp", "landlock"),
    "resource limits": ("rlimits",),
    "secrets in environment": ("env-scrub",),
}
_ENV_KEEP = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ")
_SECRET = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH|COOKIE|SESSION)"
                     r"|^(ROS_|RMW_|AMENT_|FASTDDS_|CYCLONEDDS_|SPATIALCLAW_|AWS_|GOOGLE_|AZURE_"
                     r"|OPENAI_|HF_|HUGGING)", re.IGNORECASE)
CLONE_NEWNS_USER = 0x10000000
CLONE_NEWNET = 0x40000000


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
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
out = []
for name, flags in (("userns+netns", 0x50000000), ("netns", 0x40000000)):
    if libc.unshare(flags) == 0:
        out.append(name); break
    out.append(name + ":" + str(ctypes.get_errno()))
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
            env = child_env()
            out = subprocess.run([sys.executable, "-I", "-S", "-c", _PROBE], env=env,
                                 capture_output=True, text=True, timeout=20).stdout.split()
        except (OSError, subprocess.SubprocessError) as exc:
            out = [f"probe:{exc}"]
        if "userns+netns" in out:
            res["userns"] = res["netns"] = "available"
        else:
            errs = {w.split(":")[0]: w.split(":", 1)[1] for w in out if ":" in w}
            why = errs.get("userns+netns", "?")
            res["userns"] = (f"unavailable: unshare(CLONE_NEWUSER) failed ({_errname(why)}); "
                             "unprivileged user namespaces are off or restricted (AppArmor "
                             "kernel.apparmor_restrict_unprivileged_userns, or "
                             "user.max_user_namespaces=0)")
            res["netns"] = "available" if "netns" in out else (
                f"unavailable: unshare(CLONE_NEWNET) needs CAP_NET_ADMIN or a user namespace "
                f"({_errname(errs.get('netns', '?'))})")
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


def apply_early(parent_pid: int, mode: str) -> tuple[list[str], list[str]]:
    """Before heavy imports (single-threaded): die with the parent, namespaces. (layers, notes)."""
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
    if _libc.unshare(CLONE_NEWNS_USER | CLONE_NEWNET) == 0:
        layers += ["userns", "netns"]
        _prctl(1, 9)                  # a credential change may clear PDEATHSIG: set it again
        if os.getppid() != parent_pid:
            os._exit(3)
    else:
        e1 = ctypes.get_errno()
        notes.append(f"userns: unshare(CLONE_NEWUSER) failed: {os.strerror(e1)}")
        if _libc.unshare(CLONE_NEWNET) == 0:
            layers.append("netns")
        else:
            notes.append(f"netns: unshare(CLONE_NEWNET) failed: {os.strerror(ctypes.get_errno())}")
    try:
        _prctl(4, 0)                  # PR_SET_DUMPABLE = 0: siblings cannot ptrace or read us
    except OSError as exc:
        notes.append(f"PR_SET_DUMPABLE: {exc}")
    return layers, notes


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
        seccomp.install(os.getpid())
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
