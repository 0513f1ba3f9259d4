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

Texts that do change need only part converted.  A character that no phrase of the
dictionaries holds (``data/opencc_tw2sp_phrase_chars.txt`` lists those that some phrase
holds, written with the phrase list) and that does not change on its own is a segment of
its own, unchanged; so the text converts piece by piece between such characters.
``spots()`` gives the positions that may change; normalize() converts only the pieces
around them (a few characters each, all in one call: a call costs far more than its
length when OpenCC's dictionaries are not in the processor's caches).
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from .textcodes import PairFilter

PHRASES_FILE = Path(__file__).with_name("data") / "opencc_tw2sp_phrases.txt"
# Every character but NUL (OpenCC stops at a NUL: a text holding one is always converted)
# and the newline that separates them.
_PROBE = [chr(i) for i in (*range(0x01, 0xD800), *range(0xE000, 0x10000), *range(0x20000, 0x2FA20)) if i != 0x0A]

_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
PHRASE_CHARS_FILE = Path(__file__).with_name("data") / "opencc_tw2sp_phrase_chars.txt"
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
    a PairFilter of the phrases' first two characters, {those two: phrases}, the
    characters that may share a segment with others and a pattern of their runs, or
    None when texts may not be converted piece by piece) or None when the phrase file
    does not match the installed OpenCC."""
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
    # A character class of BMP characters scans the text in C, through a bitmap (a set
    # test would make an object per character); the few characters beyond the BMP are
    # checked apart, only in texts that have such characters.
    changing = changing_characters(converter)
    bmp = re.compile("[\x00" + "".join(re.escape(c) for c in sorted(changing) if ord(c) < 0x10000) + "]")
    astral = frozenset(c for c in changing if ord(c) >= 0x10000)
    return bmp, astral, PairFilter(by_pair), {k: tuple(v) for k, v in by_pair.items()}, _pieces(changing)


def _pieces(changing):
    """(characters that may not be a segment of their own, pattern of their runs), or
    None when the list of the phrases' characters does not match the installed OpenCC."""
    try:
        lines = PHRASE_CHARS_FILE.read_text(encoding="utf-8").splitlines()
        meta = json.loads(lines[0].lstrip("# "))
    except (OSError, ValueError, IndexError):
        return None
    if meta.get("opencc") != _opencc_version() or meta.get("config") != "tw2sp" or len(lines) != 2:
        return None
    joined = frozenset(lines[1]) | changing | {"\x00"}
    if "\n" in joined:  # pragma: no cover - the newline joins the pieces of one call
        return None
    return joined, re.compile("[" + "".join(re.escape(c) for c in sorted(joined)) + "]+")


def _loaded(converter):
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
    return state[1]


def unchanged(text: str, converter) -> bool:
    """True when ``converter`` (OpenCC tw2sp) is certain to return ``text`` unchanged;
    False when it may change it (or the check is off)."""
    return spots(text, converter) == []


def spots(text: str, converter) -> list[int] | None:
    """The positions of ``text`` where ``converter`` (OpenCC tw2sp) may change something
    (a character it changes, a NUL, the start of a listed phrase), in order: [] when the
    text stays as it is.  None when the check is off (convert the whole text)."""
    loaded = _loaded(converter)
    if loaded is None:
        return None
    bmp, astral, pair_filter, by_pair, _pieces = loaded
    found = [m.start() for m in bmp.finditer(text)]  # characters OpenCC changes, or NULs
    if astral:
        found += [m.start() for m in _ASTRAL.finditer(text) if m.group() in astral]
    # The phrases, by their first two characters (the text's code arrays computed here are
    # those the later steps use when the text stays as it is).
    for i in pair_filter.positions(text):
        phrases = by_pair.get(text[i:i + 2])
        if phrases and any(text.startswith(p, i) for p in phrases):
            found.append(i)
    return sorted(found) if len(found) > 1 else found


def convert_text(converter, text: str) -> str:
    """OpenCC's conversion of ``text``.  OpenCC reads a C string and stops at a NUL
    character, so the pieces between NULs are converted apart and joined again."""
    if "\x00" in text:
        return "\x00".join(converter.convert(p) if p else p for p in text.split("\x00"))
    return converter.convert(text)


_converted: dict[tuple[int, str], str] = {}  # (converter id, piece) -> converted piece
_CONVERTED_MAX = 20_000


def convert_pieces(text: str, converter, at: list[int] | None = None) -> str | None:
    """``text`` as OpenCC (convert_text) gives it, converting only the pieces that hold
    a spot (``at``: the spots, if known); None when the check is off or the pieces may
    not be converted apart (convert the whole text then).  The pieces are mostly short
    (a word around the spot): the conversions of those up to 16 characters are
    remembered (up to _CONVERTED_MAX)."""
    loaded = _loaded(converter)
    if loaded is None or loaded[4] is None:
        return None
    joined, run = loaded[4]
    if at is None:
        at = spots(text, converter)
    if not at:
        return text
    spans: list[tuple[int, int]] = []
    pos = 0
    for p in at:
        if p < pos:  # in the last piece
            continue
        a = p
        while a > pos and text[a - 1] in joined:
            a -= 1
        m = run.match(text, p)
        pos = m.end() if m else p + 1
        spans.append((a, pos))
    key = id(converter)  # the converter is kept alive by _state
    got = {p: _converted.get((key, p)) for p in (text[a:b] for a, b in spans)}
    todo = [p for p, done in got.items() if done is None]
    if todo:
        # One call for all the new pieces, joined by newlines (a segment of its own too).
        done = convert_text(converter, "\n".join(todo)).split("\n")
        if len(done) != len(todo):  # pragma: no cover - defensive: newline boundary assumed
            done = [convert_text(converter, p) for p in todo]
        got.update(zip(todo, done))
        if len(_converted) + len(todo) > _CONVERTED_MAX:
            _converted.clear()
        _converted.update(((key, p), d) for p, d in zip(todo, done) if len(p) <= 16)
    done = [got[text[a:b]] for a, b in spans]
    out: list[str] = []
    pos = 0
    for (a, b), new in zip(spans, done):
        out.append(text[pos:a])
        out.append(new)
        pos = b
    out.append(text[pos:])
    return "".join(out)


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


def dictionary_keys() -> set[str]:
    """Every key of the dictionaries of the installed OpenCC's tw2sp (needs its opencc_dict)."""
    import opencc

    share = Path(opencc.__file__).parent / "clib" / "share" / "opencc"
    tool = Path(opencc.__file__).parent / "clib" / "bin" / "opencc_dict"
    config = json.loads((share / "tw2sp.json").read_text(encoding="utf-8"))
    keys: set[str] = set()
    with tempfile.TemporaryDirectory() as tmp:
        for name in _dictionary_files(config):
            out = Path(tmp) / (name + ".txt")
            subprocess.run([str(tool), "-i", str(share / name), "-o", str(out), "-f", "ocd2", "-t", "text"],
                           check=True, capture_output=True)
            for line in out.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    keys.add(line.split("\t")[0])
    return keys


def phrase_characters(keys: set[str]) -> str:
    """The characters of the keys of two or more characters, sorted, as one string."""
    return "".join(sorted({c for k in keys if len(k) > 1 for c in k}))


def generate(keys: set[str] | None = None) -> list[str]:
    """The phrases, from the dictionaries of the installed OpenCC (needs its opencc_dict)."""
    import opencc

    converter = opencc.OpenCC("tw2sp")
    chars = changing_characters(converter)
    keys = dictionary_keys() if keys is None else keys
    return sorted(k for k in keys if len(k) > 1 and chars.isdisjoint(k) and converter.convert(k) != k)


def main() -> int:
    keys = dictionary_keys()
    phrases = generate(keys)
    meta = {"opencc": _opencc_version(), "config": "tw2sp",
            "what": "phrases OpenCC converts whose characters it leaves alone one by one",
            "made_by": "qingting.triage.opencc_skip.main()"}
    header = json.dumps(meta, ensure_ascii=False)
    PHRASES_FILE.write_text("# " + header + "\n" + "\n".join(phrases) + "\n", encoding="utf-8")
    print(f"{len(phrases)} phrases written to {PHRASES_FILE}")
    chars = phrase_characters(keys)
    header = json.dumps({**meta, "what": "the characters of the dictionaries' phrases (keys of two or more characters)"},
                        ensure_ascii=False)
    PHRASE_CHARS_FILE.write_text("# " + header + "\n" + chars + "\n", encoding="utf-8")
    print(f"{len(chars)} characters written to {PHRASE_CHARS_FILE}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
