"""The triage core is pure: importing it in a fresh interpreter must not load Django."""

import subprocess
import sys


def test_triage_does_not_import_django():
    code = (
        "import sys\n"
        "import qingting.triage as t\n"
        "import qingting.triage.cli, qingting.triage.model, qingting.triage.tables\n"
        "t.analyze('刹车失灵，我要找记者曝光！！')\n"
        "t.mask_text('13812345678')\n"
        "bad = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"Django was imported by the triage core: {r.stdout}{r.stderr}"
    assert r.stdout.strip() == "[]"
