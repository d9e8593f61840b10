"""The static check: what it flags, and that its messages tell the model what to do instead."""
from __future__ import annotations

import pytest

from spatialclaw_ros.kernel import check_code


@pytest.mark.parametrize("code, needle", [
    ("import os\nos.listdir('/')", "`import os` is not allowed"),
    ("from subprocess import run", "`from subprocess import ...` is not allowed"),
    ("import socket as s", "no network"),
    ("open('/etc/passwd')", "`open(...)` is not allowed"),
    ("exec('1')", "`exec(...)`"),
    ("x = __import__('os')", "`__import__(...)`"),
    ("getattr(__builtins__, 'op' + 'en')", "`__builtins__` is not allowed"),
    ("().__class__.__bases__[0].__subclasses__()", "`__subclasses__`"),
    ("exit()", "call ReturnAnswer"),
])
def test_flags_forbidden_constructs_with_a_hint(code: str, needle: str) -> None:
    msgs = check_code(code)
    assert msgs, code
    assert any(needle in m for m in msgs), msgs
    assert all(m.startswith("line ") for m in msgs)


def test_allows_ordinary_analysis_code() -> None:
    code = ("d = np.nanmedian(InputImages[0].astype(float))\n"
            "m = scipy.ndimage.binary_dilation(np.ones((3, 3), bool))\n"
            "show(cv2.resize(InputImages[0], (32, 24)), 'small')\n"
            "ReturnAnswer(float(d), unit='m')\n")
    assert check_code(code) == []


def test_reports_syntax_errors_with_the_line() -> None:
    msgs = check_code("x = (1,\ny = 2")
    assert len(msgs) == 1 and msgs[0].startswith("SyntaxError at line")


def test_rejects_empty_and_non_text() -> None:
    assert "empty" in check_code("   \n")[0]
    assert "source text" in check_code(b"x=1")[0]  # type: ignore[arg-type]


def test_known_bypasses_pass_the_check() -> None:
    """The check is a first line only: these pass it, and test_isolation shows the OS stops them."""
    for code in ("np.save('/tmp/x.npy', np.zeros(3))",
                 "c = np.ctypeslib.ctypes.CDLL(None); c.socket(2, 1, 0)",
                 "np.fromfile('/etc/shadow', dtype=np.uint8)"):
        assert check_code(code) == [], code
