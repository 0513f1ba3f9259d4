"""PDF helpers shared by reports and exports: reportlab's built-in CJK font (no font file to install)."""
import threading

FONT = "STSong-Light"
_lock = threading.Lock()
_ready = False


def register_cjk_font() -> str:
    """Register the CID font for Chinese once per process; returns its name."""
    global _ready
    if not _ready:
        with _lock:
            if not _ready:
                from reportlab.pdfbase import pdfmetrics
                from reportlab.pdfbase.cidfonts import UnicodeCIDFont

                pdfmetrics.registerFont(UnicodeCIDFont(FONT))
                _ready = True
    return FONT
