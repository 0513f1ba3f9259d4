"""Demo data, the `qingting` command's settings parsing, and the health check."""
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from qingting.accounts.models import Role, User
from qingting.complaints.models import Complaint, Event
from qingting.settings import _env_bool, parse_database_url


@pytest.mark.django_db
def test_demo_creates_every_role_and_complaints_across_steps(capsys):
    call_command("demo", count=40, seed=1)
    out = capsys.readouterr().out
    assert "qingting-demo-2026" in out
    assert {r for r in User.objects.values_list("role", flat=True)} >= {r.value for r in Role}
    assert Complaint.objects.count() == 40
    steps = set(Complaint.objects.values_list("step__code", flat=True))
    assert len(steps) >= 4, steps
    assert Event.objects.filter(kind="step.advanced").exists()
    assert set(Complaint.objects.values_list("profile__code", flat=True)) >= {"auto4s", "finance", "ecommerce"}
    call_command("demo", count=40, if_empty=True)
    assert Complaint.objects.count() == 40  # --if-empty leaves existing data alone


def test_database_url_parsing(tmp_path):
    pg = parse_database_url("postgres://u:p%40ss@db.example:5433/qingting?sslmode=require", tmp_path)
    assert pg["ENGINE"].endswith("postgresql") and pg["PASSWORD"] == "p@ss" and pg["PORT"] == "5433"
    assert pg["OPTIONS"] == {"sslmode": "require"}
    lite = parse_database_url("sqlite:////tmp/x.db", tmp_path)
    assert lite["NAME"] == "/tmp/x.db"
    with pytest.raises(ImproperlyConfigured):
        parse_database_url("mysql://root@localhost/x", tmp_path)
    with pytest.raises(ImproperlyConfigured):
        parse_database_url("postgres://localhost/", tmp_path)


def test_malformed_boolean_setting_fails_loudly(monkeypatch):
    monkeypatch.setenv("QINGTING_DEBUG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="QINGTING_DEBUG"):
        _env_bool("QINGTING_DEBUG")
    monkeypatch.setenv("QINGTING_DEBUG", "on")
    assert _env_bool("QINGTING_DEBUG") is True


@pytest.mark.django_db
def test_security_headers(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "csrfmiddlewaretoken" in response.content.decode()


@pytest.mark.django_db
def test_pages_load_nothing_from_a_cdn(client, people):
    import re

    client.force_login(people["manager"])
    for path in ("/api/v1/docs", "/", "/complaints/new/", "/accounts/login/"):
        html = client.get(path).content.decode()
        urls = re.findall(r'(?:src|href)="([^"]+)"', html)
        external = [u for u in urls if u.startswith(("http://", "https://", "//"))]
        assert not external, (path, external)
