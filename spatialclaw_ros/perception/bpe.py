"""Client-side CLIP byte-pair-encoding tokenizer for SAM 3 text prompts (no torch).

SAM 3 encodes text with the CLIP BPE (49,408 ids: 256 byte symbols, their word-final forms, 48,894
merges, then <start_of_text> and <end_of_text>), lower-cased, in a context of 32 ids. Exported SAM 3
graphs take these ids, so tokenizing happens here, in the node. The vocabulary file
``bpe_simple_vocab_16e6.txt.gz`` is not in the sam3 wheel; it ships in the MIT ``open-clip-torch``
wheel (``open_clip/bpe_simple_vocab_16e6.txt.gz``, md5 933b7abbbbde62c36f02f0e6ccde464f).
Text cleaning: HTML entities unescaped, Unicode NFC, whitespace collapsed, lower case (the upstream
also runs ftfy's mojibake repair, which changes nothing for well-formed text).
"""
from __future__ import annotations

import gzip
import html
import os
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

import numpy as np

SAM3_CONTEXT = 32
N_MERGES = 49152 - 256 - 2
SOT, EOT = "<start_of_text>", "<end_of_text>"
# Contractions, runs of letters, single digits, runs of other non-space symbols.
_TOKEN_RE = re.compile(r"<start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[^\W\d_]+|\d|(?:[^\s\w]|_)+",
                       re.IGNORECASE)


@lru_cache(maxsize=1)
def byte_symbols() -> dict[int, str]:
    """Byte -> printable character, in vocabulary order: printable Latin-1 bytes (as themselves) first,
    then the other bytes in increasing order as chr(256), chr(257), ..."""
    keep = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    rest = [b for b in range(256) if b not in keep]
    table = {b: chr(b) for b in keep}
    table.update({b: chr(256 + i) for i, b in enumerate(rest)})
    return table


def find_vocab(explicit: str = "") -> Path:
    """The BPE vocabulary: ``explicit``, else open_clip's copy in any importable open_clip."""
    if explicit:
        p = Path(os.path.expanduser(explicit))
        if not p.is_file():
            raise FileNotFoundError(f"BPE vocabulary {p} not found (set perception.sam3_bpe_path)")
        return p
    import importlib.util
    spec = importlib.util.find_spec("open_clip")
    if spec and spec.origin:
        p = Path(spec.origin).parent / "bpe_simple_vocab_16e6.txt.gz"
        if p.is_file():
            return p
    raise FileNotFoundError("BPE vocabulary bpe_simple_vocab_16e6.txt.gz not found: set perception.sam3_bpe_path "
                            "(it ships in the MIT open-clip-torch wheel as open_clip/bpe_simple_vocab_16e6.txt.gz)")


class ClipBpeTokenizer:
    """Text -> CLIP BPE ids, as SAM 3's text encoder expects them."""

    def __init__(self, vocab_path: str | os.PathLike[str]) -> None:
        lines = gzip.decompress(Path(vocab_path).read_bytes()).decode("utf-8").split("\n")
        merges = [tuple(line.split()) for line in lines[1:N_MERGES + 1]]
        if len(merges) != N_MERGES or any(len(m) != 2 for m in merges):
            raise ValueError(f"{vocab_path} is not the CLIP BPE vocabulary (expected {N_MERGES} merge rules)")
        symbols = list(byte_symbols().values())
        vocab = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges] + [SOT, EOT]
        self.ids = {tok: i for i, tok in enumerate(vocab)}
        self.rank = {m: i for i, m in enumerate(merges)}
        self.sot, self.eot = self.ids[SOT], self.ids[EOT]
        self._memo: dict[str, list[str]] = {}

    @staticmethod
    def clean(text: str) -> str:
        """Unescape HTML, NFC-normalise, collapse whitespace, lower-case."""
        text = html.unescape(html.unescape(unicodedata.normalize("NFC", text))).strip()
        return re.sub(r"\s+", " ", text).strip().lower()

    def _merge(self, word: str) -> list[str]:
        if word in self._memo:
            return self._memo[word]
        parts = list(word[:-1]) + [word[-1] + "</w>"]
        while len(parts) > 1:
            best, best_rank = -1, None
            for i in range(len(parts) - 1):
                r = self.rank.get((parts[i], parts[i + 1]))
                if r is not None and (best_rank is None or r < best_rank):
                    best, best_rank = i, r
            if best < 0:
                break
            pair = (parts[best], parts[best + 1])
            merged, i = [], 0
            while i < len(parts):                       # merge every occurrence of the best pair
                if i < len(parts) - 1 and (parts[i], parts[i + 1]) == pair:
                    merged.append(parts[i] + parts[i + 1])
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = merged
        self._memo[word] = parts
        return parts

    def encode(self, text: str) -> list[int]:
        """BPE ids of ``text`` without start/end markers."""
        table = byte_symbols()
        out: list[int] = []
        for piece in _TOKEN_RE.findall(self.clean(text)):
            if piece in (SOT, EOT):
                out.append(self.ids[piece])
                continue
            out.extend(self.ids[p] for p in self._merge("".join(table[b] for b in piece.encode("utf-8"))))
        return out

    def __call__(self, texts: str | list[str], context: int = SAM3_CONTEXT) -> np.ndarray:
        """(len(texts), context) int64 ids: <start> text <end>, zero-padded, truncated keeping <end>."""
        if isinstance(texts, str):
            texts = [texts]
        out = np.zeros((len(texts), context), np.int64)
        for row, t in enumerate(texts):
            ids = [self.sot] + self.encode(t) + [self.eot]
            if len(ids) > context:
                ids = ids[:context - 1] + [self.eot]
            out[row, :len(ids)] = ids
        return out
