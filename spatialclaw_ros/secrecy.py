"""The node's and CLI's own secrets: process hardening and redaction of VLM credentials.

* :func:`harden_process` makes the calling process non-dumpable (``PR_SET_DUMPABLE`` 0): another
  process of the same uid can then neither read ``/proc/<pid>/environ`` (API keys) nor write
  ``/proc/<pid>/mem`` nor ptrace it. Called first thing by the node and the CLI. Root
  (CAP_SYS_PTRACE) still can; core dumps and debugger attach by the same user are off too.
* :class:`Redactor` removes the VLM URL's credentials (``user:password@``, query parameters such as
  ``?key=``/``?token=``, the API key's value) from any text, so error messages that reach the
  kernel, the transcript, logs or the CLI's output never carry them. :func:`redact_url` is the
  form of the URL to show.
"""
from __future__ import annotations

import ctypes
import os
import re
from urllib.parse import parse_qsl, urlsplit, urlunsplit

PR_SET_DUMPABLE = 4
PR_GET_DUMPABLE = 3
MASK = "***"
_MIN_SECRET = 4          # shorter "secrets" would redact ordinary words


def harden_process() -> bool:
    """PR_SET_DUMPABLE 0 for this process; True if it took effect (Linux only)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
            return False
        return libc.prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def is_dumpable() -> bool | None:
    """Whether this process is dumpable (None where prctl is unavailable)."""
    try:
        return bool(ctypes.CDLL(None).prctl(PR_GET_DUMPABLE, 0, 0, 0, 0))
    except (OSError, AttributeError):
        return None


def url_secrets(url: str) -> list[str]:
    """The secret parts of a URL: its userinfo (and password) and its query parameters' values."""
    out: list[str] = []
    try:
        parts = urlsplit(url or "")
    except ValueError:
        return out
    if "@" in parts.netloc:
        userinfo = parts.netloc.rsplit("@", 1)[0]
        out.append(userinfo)
        if ":" in userinfo:
            out.append(userinfo.split(":", 1)[1])
    for _, value in parse_qsl(parts.query, keep_blank_values=False):
        out.append(value)
    if parts.query:
        out.append(parts.query)
    return [s for s in out if len(s) >= _MIN_SECRET]


def has_credentials(url: str) -> bool:
    """True when the URL carries userinfo or query parameters (which may be tokens)."""
    try:
        parts = urlsplit(url or "")
    except ValueError:
        return False
    return "@" in parts.netloc or bool(parts.query)


def redact_url(url: str) -> str:
    """The URL without userinfo and with query values masked: safe to print or log."""
    try:
        parts = urlsplit(url or "")
    except ValueError:
        return MASK
    netloc = parts.netloc.rsplit("@", 1)[1] if "@" in parts.netloc else parts.netloc
    if "@" in parts.netloc:
        netloc = f"{MASK}@{netloc}"
    query = "&".join(f"{k}={MASK}" for k, _ in parse_qsl(parts.query, keep_blank_values=True))
    if parts.query and not query:
        query = MASK
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


class Redactor:
    """Replaces known secret strings (and their URL-quoted forms) in text with ``***``."""

    def __init__(self, secrets: list[str]) -> None:
        from urllib.parse import quote, quote_plus

        forms: set[str] = set()
        for s in secrets:
            if s and len(s) >= _MIN_SECRET:
                forms.update({s, quote(s, safe=""), quote_plus(s), quote(s)})
        self._secrets = sorted(forms, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(s) for s in self._secrets)) \
            if self._secrets else None

    @classmethod
    def for_vlm(cls, base_url: str, api_key_env: str = "") -> "Redactor":
        """A redactor for the VLM endpoint's URL credentials and the API key in api_key_env."""
        secrets = url_secrets(base_url)
        key = os.environ.get(api_key_env, "") if api_key_env else ""
        if key:
            secrets.append(key)
        return cls(secrets)

    def __call__(self, text: str) -> str:
        """text with every known secret masked."""
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(MASK, text)
