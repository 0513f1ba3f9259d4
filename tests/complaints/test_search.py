"""Keyword search over the search keys: every way a complaint is written keeps its keys, on
SQLite (LIKE) and PostgreSQL (GIN over bigint[]) alike; the migration gives old rows theirs."""
import pytest
from django.db import connection

from qingting.complaints import services
from qingting.complaints.models import Complaint
from qingting.complaints.queries import apply_text_search
from qingting.core.text import search_keys
from qingting.intake.actors import system_user
from qingting.intake.importer.engine import run_import

pytestmark = pytest.mark.django_db


def found(q: str) -> set[str]:
    return set(apply_text_search(Complaint.objects.all(), q).values_list("number", flat=True))


def test_created_complaint_is_found_by_words_number_and_customer(new_complaint):
    c = new_complaint(subject="刹车失灵", description="高速上刹车突然失灵，4S店说正常。", customer={"name": "欧阳娜娜",
                                                                                       "mobile": "13900139000"})
    other = new_complaint(subject="空调异味", description="空调有霉味。")
    assert found("刹车失灵") == {c.number}
    assert found("４ｓ店") == {c.number}  # full-width latin folded like the text
    assert found(c.number) == {c.number} and found(c.number.lower().replace("-", " ")) == {c.number}
    assert found("欧阳") == {c.number}
    assert found("刹车 霉味") == set()  # every word must be found
    assert found("异味") == {other.number}
    assert found("，！") == found("") == {c.number, other.number}  # nothing to search for: no filter


def test_updated_text_is_searched_by_its_new_words(new_complaint, people):
    c = new_complaint(subject="刹车失灵", description="刹车失灵。")
    services.update_complaint(c.number, actor=people["agent"], changes={"description": "变速箱顿挫严重"})
    assert found("变速箱") == {c.number}
    assert found("失灵") == {c.number}  # still in the subject
    assert found("顿挫 失灵") == {c.number} and found("刹车 霉味") == set()


def _import_two(tmp_path, workers):
    path = tmp_path / "a.csv"
    path.write_text("编号,日期,内容,姓名\nS1,2024/1/6,发动机异响（第3次反映）,司马光\nS2,2024/1/7,变速箱顿挫 DSG,张三\n",
                    encoding="utf-8")
    mapping = {"name": "t", "source": "search", "profile": "general", "closed": True,
               "columns": {"编号": "external_id", "日期": "received_at", "内容": "description", "姓名": "customer.name"}}
    assert run_import(path, mapping, actor=system_user("import"), workers=workers).imported == 2
    first, second = (Complaint.objects.get(import_record__external_id=x) for x in ("S1", "S2"))
    assert found("发动机异响") == {first.number} and found("司马") == {first.number}
    assert found("dsg 顿挫") == {second.number} and found(second.number) == {second.number}
    assert sorted(set(first.search_keys)) == search_keys(first.number, first.subject, first.description, "司马光")
    assert first.triage.get("emotion") and first.emotion == first.triage["emotion"]["code"]


def test_imported_rows_are_searchable(tmp_path):
    _import_two(tmp_path, workers=0)


@pytest.mark.django_db(transaction=True)
def test_rows_analysed_in_worker_processes_are_searchable(tmp_path, monkeypatch):
    if connection.vendor == "sqlite":
        pytest.skip("worker processes are forked after the connections close: the in-memory test database would go")
    from qingting.intake.importer import engine

    pools = []
    submit = engine._Analyser.submit
    monkeypatch.setattr(engine._Analyser, "submit", lambda self, *a: (pools.append(self.pool), submit(self, *a))[1])
    _import_two(tmp_path, workers=1)  # outside a transaction, so the import really forks its worker
    assert pools and all(pool is not None for pool in pools)


@pytest.mark.django_db(transaction=True)
def test_migration_gives_existing_rows_keys_and_back(new_complaint):
    from django.db.migrations.executor import MigrationExecutor

    c = new_complaint(subject="刹车失灵", description="高速上刹车突然失灵")
    before = list(c.search_keys)
    executor = MigrationExecutor(connection)
    executor.migrate([("complaints", "0007_unique_codes_lz4")])  # back: search_text from the columns
    with connection.cursor() as cur:
        cur.execute("SELECT search_text FROM complaints_complaint WHERE id = %s", [c.pk])
        text = cur.fetchone()[0]
    assert "刹车" in text.split() and c.number.lower().split("-")[0] in text.split()
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())  # forward again: keys from search_text
    c.refresh_from_db()
    assert c.search_keys == before
    assert found("突然失灵") == {c.number}
