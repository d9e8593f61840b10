"""Static check of model-written cells: a first line of defence with messages the model can act on.

It is not the security boundary (``getattr(__builtins__, 'op' + 'en')`` or ``np.ctypeslib`` get
past any denylist); the OS sandbox is. Its job is to steer the model away from things that will
fail anyway, early and with a hint, before a cell wastes a step.
"""
from __future__ import annotations

import ast
import threading

# CPython 3.11 keeps the AST converter's recursion depth per interpreter, not per thread: two
# threads parsing at once (parallel eval queries, concurrent goals) can fail with "SystemError: AST
# constructor recursion depth mismatch". Parse one at a time.
_PARSE_LOCK = threading.Lock()

_IMPORT_HINT = {
    "os": "files and processes are off limits; keep data in variables",
    "sys": "the interpreter is off limits",
    "subprocess": "no processes can be started",
    "socket": "there is no network in the kernel",
    "shutil": "files are off limits", "pathlib": "files are off limits",
    "ctypes": "native calls are off limits", "cffi": "native calls are off limits",
    "multiprocessing": "no processes can be started", "threading": "keep to one thread",
    "signal": "signals are off limits", "importlib": "use the pre-imported modules",
    "builtins": "use the built-in names directly", "pickle": "keep data in variables",
    "marshal": "keep data in variables", "shelve": "keep data in variables",
    "requests": "there is no network in the kernel", "urllib": "there is no network in the kernel",
    "http": "there is no network in the kernel", "ftplib": "there is no network in the kernel",
    "smtplib": "there is no network in the kernel", "asyncio": "keep to plain synchronous code",
    "pty": "no terminals", "resource": "limits are fixed", "gc": "memory is managed for you",
    "inspect": "read the tool documentation instead", "code": "write the code directly",
    "rclpy": "ROS is not available in the kernel; the frames are in InputImages",
}
_CALL_HINT = {
    "open": "files are off limits; data is in InputImages, Metadata and tools",
    "exec": "write the code directly", "eval": "write the expression directly",
    "compile": "write the code directly", "__import__": "use the pre-imported np, scipy, cv2",
    "input": "there is no user to type; use Metadata",
    "breakpoint": "there is no debugger", "exit": "call ReturnAnswer(...) to finish",
    "quit": "call ReturnAnswer(...) to finish", "globals": "use the variables directly",
    "locals": "use the variables directly", "vars": "use the variables directly",
    "memoryview": "use numpy arrays", "help": "read the tool documentation in the prompt",
}
_ATTR_HINT = {
    "system": "no processes can be started", "popen": "no processes can be started",
    "fork": "no processes can be started", "kill": "signals are off limits",
}


def _root(name: str) -> str:
    return name.split(".", 1)[0]


def check_code(code: str) -> list[str]:
    """Messages about forbidden constructs in a cell ([] means it may run); syntax errors too."""
    if not isinstance(code, str):
        return [f"the cell must be Python source text, got {type(code).__name__}"]
    if not code.strip():
        return ["the cell is empty: write one ```python block with the next step"]
    try:
        with _PARSE_LOCK:
            tree = ast.parse(code, mode="exec")
    except SyntaxError as exc:
        where = f"line {exc.lineno}" + (f", column {exc.offset}" if exc.offset else "")
        text = (exc.text or "").rstrip()
        return [f"SyntaxError at {where}: {exc.msg}" + (f"\n    {text}" if text else "")]
    out: list[str] = []

    def add(node: ast.AST, msg: str) -> None:
        out.append(f"line {getattr(node, 'lineno', '?')}: {msg}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                hint = _IMPORT_HINT.get(_root(alias.name))
                if hint:
                    add(node, f"`import {alias.name}` is not allowed in the kernel ({hint}); "
                              "np, scipy, cv2 and tools are already imported")
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            hint = _IMPORT_HINT.get(_root(mod))
            if hint and node.level == 0:
                add(node, f"`from {mod} import ...` is not allowed in the kernel ({hint})")
        elif isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name) and f.id in _CALL_HINT:
                add(node, f"`{f.id}(...)` is not allowed in the kernel ({_CALL_HINT[f.id]})")
            elif isinstance(f, ast.Attribute) and f.attr in _ATTR_HINT:
                add(node, f"`.{f.attr}(...)` is not allowed in the kernel ({_ATTR_HINT[f.attr]})")
        elif isinstance(node, ast.Attribute) and node.attr.startswith("__") and node.attr.endswith("__") \
                and node.attr not in ("__name__", "__doc__", "__class__", "__len__"):
            add(node, f"access to `{node.attr}` is not allowed in the kernel (use the public API)")
        elif isinstance(node, ast.Name) and node.id in ("__builtins__", "__loader__", "__spec__"):
            add(node, f"`{node.id}` is not allowed in the kernel (use the built-in names directly)")
    return out
