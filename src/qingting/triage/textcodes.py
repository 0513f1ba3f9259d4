"""Code arrays of a text, computed once and shared by the steps that read it."""
from __future__ import annotations

import numpy as np

_last_codes: tuple = ("", None)


def text_codes(text: str):
    """(code points, character-pair keys) of ``text`` as uint64 arrays (a pair key is the
    two code points packed 21 bits apart).  The last text's arrays are reused: the OpenCC
    check, language detection, the matchers and the model read the same text in a row."""
    global _last_codes
    last = _last_codes
    if last[0] is text:
        return last[1]
    cp = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4").astype(np.uint64)
    codes = (cp, (cp[:-1] << np.uint64(21)) | cp[1:])
    _last_codes = (text, codes)
    return codes
