"""A real IMAP server for the tests: Dovecot with a throw-away config on a free port.

Needs Debian's `dovecot-imapd` (apt-get install -y dovecot-imapd; it pulls dovecot-core).
Without the binary the tests skip loudly, unless CI is set (then they fail).
"""
from __future__ import annotations

import getpass
import imaplib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None)
USER, PASSWORD = "complaints", "imap-test-secret"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(root: Path, port: int) -> str:
    if os.geteuid() == 0:
        internal, login, mail_user = "dovecot", "dovenull", "dovecot"
    else:
        internal = login = mail_user = getpass.getuser()
    gid = pwd.getpwnam(mail_user).pw_gid
    return f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
first_valid_uid = 0
first_valid_gid = 0
default_internal_user = {internal}
default_internal_group = {internal}
default_login_user = {login}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_user} gid={gid} home={root}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


class Dovecot:
    def __init__(self, root: Path, port: int):
        self.root, self.port, self.host = root, port, "127.0.0.1"
        self.user, self.password = USER, PASSWORD

    def client(self) -> imaplib.IMAP4:
        m = imaplib.IMAP4(self.host, self.port)
        m.login(self.user, self.password)
        return m

    def deliver(self, raw: bytes, folder: str = "INBOX") -> None:
        m = self.client()
        try:
            typ, data = m.append(folder, None, None, raw)
            assert typ == "OK", data
        finally:
            m.logout()

    def flags(self) -> dict[int, str]:
        m = self.client()
        try:
            m.select("INBOX")
            typ, data = m.uid("FETCH", "1:*", "(FLAGS)")
            out = {}
            for line in data:
                if isinstance(line, bytes) and b"UID" in line:
                    parts = line.decode().replace("(", " ").replace(")", " ").split()
                    out[int(parts[parts.index("UID") + 1])] = line.decode()
            return out
        finally:
            m.logout()


@pytest.fixture
def dovecot():
    if DOVECOT is None:
        message = ("!!! dovecot binary not found — the e-mail intake tests against a real IMAP server were NOT run. "
                   "Install it with: apt-get install -y dovecot-imapd")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    root = Path(tempfile.mkdtemp(prefix="qt-dovecot-"))
    os.chmod(root, 0o755)
    for sub in ("run", "state", "mail"):
        (root / sub).mkdir()
    port = _free_port()
    (root / "dovecot.conf").write_text(_config(root, port))
    (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    if os.geteuid() == 0:
        shutil.chown(root / "mail", "dovecot", "dovecot")
    # the daemon's children keep inherited pipes open: send its start-up output to a file
    with open(root / "start.log", "wb") as out:
        proc = subprocess.run([DOVECOT, "-c", str(root / "dovecot.conf")], stdout=out, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, timeout=30)
    if proc.returncode:
        log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
        pytest.fail(f"dovecot did not start: {(root / 'start.log').read_text()}\n{log}")
    server = Dovecot(root, port)
    for _ in range(50):
        try:
            server.client().logout()
            break
        except OSError:
            time.sleep(0.1)
    try:
        yield server
    finally:
        pid_file = root / "run" / "master.pid"
        if pid_file.exists():
            try:
                os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
            except (ProcessLookupError, ValueError):
                pass
            for _ in range(30):
                if not pid_file.exists():
                    break
                time.sleep(0.1)
        shutil.rmtree(root, ignore_errors=True)
