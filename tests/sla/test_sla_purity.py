"""The SLA core is pure: importing it in a fresh interpreter must not load Django."""

import subprocess
import sys


def test_sla_core_does_not_import_django():
    code = (
        "import sys\n"
        "import qingting.sla.calendar, qingting.sla.clock, qingting.sla.presets\n"
        "qingting.sla.presets.load_presets()\n"
        "bad = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'))\n"
        "print('django' in sys.modules)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"Django was imported by the SLA core: {r.stdout}{r.stderr}"
    assert r.stdout.strip() == "False"
