"""Whether OpenCC (``tw2sp``) would leave a text unchanged, so that normalize() can skip
the conversion (a tenth of the time of an analysis) without changing any result.

A text changes only if it holds a character that OpenCC converts on its own (found at
run time by converting every character once, ~50 ms at first use), or one of the phrases
whose characters OpenCC leaves alone one by one but converts together (滑鼠→鼠标,
回覆→回复, 使用者→用户 …).  Those phrases come from OpenCC's own dictionaries:
``data/opencc_tw2sp_phrases.txt``, written by ``qingting.triage.opencc_skip.main()``
with the ``opencc_dict`` tool of the installed OpenCC.  The file names the OpenCC version
it was made from; with any other version the check is off and every text is converted.

Why this is exact: OpenCC converts a text segment by segment, a segment being one
character or one phrase of its dictionaries.  A one-character segment changes only if
the character changes on its own; a phrase segment without such a character changes
only if the phrase is one of the listed ones, which then occurs in the text.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np

from .textcodes import text_codes

PHRASES_FILE = Path(__file__).with_name("data") / "opencc_tw2sp_phrases.txt"
# Every character but NUL (OpenCC stops at a NUL: a text holding one is always converted)
# and the newline that separates them.
_PROBE = [chr(i) for i in (*range(0x01, 0xD800), *range(0xE000, 0x10000), *range(0x20000, 0x2FA20)) if i != 0x0A]

_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_state: dict = {}
_lock = threading.Lock()


def _opencc_version() -> str | None:
    try:
        import opencc
    except ImportError:  # pragma: no cover - OpenCC is a dependency
        return None
    return getattr(opencc, "__version__", None)


def changing_characters(converter) -> frozenset[str]:
    """The characters the converter changes on its own (each converted apart)."""
    out = converter.convert("\n".join(_PROBE)).split("\n")
    if len(out) != len(_PROBE):  # pragma: no cover - defensive: unexpected output
        raise ValueError("OpenCC changed the line structure of the probe")
    return frozenset(c for c, o in zip(_PROBE, out) if c != o)


def _load(converter):
    """(pattern of the changing characters and NUL, their characters beyond the BMP,
    sorted pair keys of the phrases' first two characters, {those two: phrases}) or None
    when the phrase file does not match the installed OpenCC."""
    try:
        lines = PHRASES_FILE.read_text(encoding="utf-8").splitlines()
        meta = json.loads(lines[0].lstrip("# "))
    except (OSError, ValueError, IndexError):
        return None
    if meta.get("opencc") != _opencc_version() or meta.get("config") != "tw2sp":
        return None
    by_pair: dict[str, list[str]] = {}
    for p in lines[1:]:
        if len(p) > 1:
            by_pair.setdefault(p[:2], []).append(p)
    keys = np.array(sorted((ord(k[0]) << 21) | ord(k[1]) for k in by_pair) + [2 ** 64 - 1], dtype=np.uint64)
    # A character class of BMP characters scans the text in C, through a bitmap (a set
    # test would make an object per character); the few characters beyond the BMP are
    # checked apart, only in texts that have such characters.
    changing = changing_characters(converter)
    bmp = re.compile("[\x00" + "".join(re.escape(c) for c in sorted(changing) if ord(c) < 0x10000) + "]")
    astral = frozenset(c for c in changing if ord(c) >= 0x10000)
    return bmp, astral, keys, {k: tuple(v) for k, v in by_pair.items()}


def unchanged(text: str, converter) -> bool:
    """True when ``converter`` (OpenCC tw2sp) is certain to return ``text`` unchanged;
    False when it may change it (or the check is off)."""
    key = id(converter)
    state = _state.get(key)
    if state is None:
        with _lock:
            state = _state.get(key)
            if state is None:
                try:
                    state = (converter, _load(converter))
                except Exception:  # pragma: no cover - never let the shortcut break normalisation
                    state = (converter, None)
                _state[key] = state
    loaded = state[1]
    if loaded is None:
        return False
    bmp, astral, keys, by_pair = loaded
    if bmp.search(text):  # a character OpenCC changes, or a NUL
        return False
    if not astral.isdisjoint(_ASTRAL.findall(text)):
        return False
    # The phrases, by their first two characters (the text's code arrays computed here are
    # those the later steps use when the text stays as it is).
    pairs = text_codes(text)[1]
    for i in np.flatnonzero(keys[np.searchsorted(keys, pairs)] == pairs).tolist():
        if any(text.startswith(p, i) for p in by_pair[text[i:i + 2]]):
            return False
    return True


# ---------------------------------------------------------------------- regeneration
def _dictionary_files(config: dict) -> list[str]:
    files: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "ocd2" and "file" in node:
                files.append(node["file"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(config)
    return sorted(set(files))


def generate() -> list[str]:
    """The phrases, from the dictionaries of the installed OpenCC (needs its opencc_dict)."""
    import opencc

    share = Path(opencc.__file__).parent / "clib" / "share" / "opencc"
    tool = Path(opencc.__file__).parent / "clib" / "bin" / "opencc_dict"
    config = json.loads((share / "tw2sp.json").read_text(encoding="utf-8"))
    converter = opencc.OpenCC("tw2sp")
    chars = changing_characters(converter)
    keys: set[str] = set()
    with tempfile.TemporaryDirectory() as tmp:
        for name in _dictionary_files(config):
            out = Path(tmp) / (name + ".txt")
            subprocess.run([str(tool), "-i", str(share / name), "-o", str(out), "-f", "ocd2", "-t", "text"],
                           check=True, capture_output=True)
            for line in out.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    keys.add(line.split("\t")[0])
    return sorted(k for k in keys if len(k) > 1 and chars.isdisjoint(k) and converter.convert(k) != k)


def main() -> int:
    phrases = generate()
    header = json.dumps({"opencc": _opencc_version(), "config": "tw2sp",
                         "what": "phrases OpenCC converts whose characters it leaves alone one by one",
                         "made_by": "qingting.triage.opencc_skip.main()"}, ensure_ascii=False)
    PHRASES_FILE.write_text("# " + header + "\n" + "\n".join(phrases) + "\n", encoding="utf-8")
    print(f"{len(phrases)} phrases written to {PHRASES_FILE}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
