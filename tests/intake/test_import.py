"""Bulk import: formats, bad input, all-or-nothing, idempotency, the real files."""
from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from qingting.analytics.models import ALL, ComplaintFact, Rollup
from qingting.complaints.models import Complaint, ComplaintFlag, Event, Message
from qingting.core.errors import Invalid, TooLarge
from qingting.intake.actors import system_user
from qingting.intake.importer import mapping as mapping_mod
from qingting.intake.importer.dates import parse_datetime
from qingting.intake.importer.engine import run_import
from qingting.intake.importer.readers import open_table
from qingting.intake.models import ImportedRecord, ImportMapping, SimilaritySignature
from tests.conftest import shared_data

TZ = dt.timezone(dt.timedelta(hours=8))
MAPPING = {"name": "t", "source": "test", "profile": "general", "closed": True,
           "columns": {"编号": "external_id", "日期": "received_at", "内容": "description", "手机": "customer.mobile"}}


def write_csv(path, rows, encoding="utf-8"):
    with open(path, "w", encoding=encoding, newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


@pytest.mark.parametrize("raw, expected", [
    ("2024/1/6", dt.datetime(2024, 1, 6, tzinfo=TZ)),
    ("2024-01-06 12:09", dt.datetime(2024, 1, 6, 12, 9, tzinfo=TZ)),
    ("20240106", dt.datetime(2024, 1, 6, tzinfo=TZ)),
    ("45297", dt.datetime(2024, 1, 6, tzinfo=TZ)),
    (45297.5, dt.datetime(2024, 1, 6, 12, 0, tzinfo=TZ)),
    ("2024年1月6日", dt.datetime(2024, 1, 6, tzinfo=TZ)),
    ("2019/4/24 16:03:40", dt.datetime(2019, 4, 24, 16, 3, 40, tzinfo=TZ)),
])
def test_five_date_formats(raw, expected):
    assert parse_datetime(raw) == expected


@pytest.mark.parametrize("raw", ["2024/2/30", "明天", "12", "", "2024-13-01"])
def test_bad_dates_are_explained(raw):
    with pytest.raises(ValueError) as exc:
        parse_datetime(raw)
    assert "日期" in str(exc.value)


def test_gbk_csv_all_date_formats_and_empty_rows(db, tmp_path):
    path = write_csv(tmp_path / "gbk.csv", [
        ["编号", "日期", "内容", "手机"],
        ["A1", "2024/1/6", "发动机异响，4S店推诿不处理", "13800138000"],
        [],
        ["", "", "", ""],
        ["A2", "2024-01-06 12:09", "刹车失灵，要求退车", "13800138000"],
        ["A3", "20240106", "车门生锈严重", ""],
        ["A4", "45297", "售后服务态度恶劣", ""],
        ["A5", "2024年1月6日", "承诺的赠品没有兑现", "+86 139-0013-9000"],
    ], encoding="gbk")
    report = run_import(path, MAPPING, actor=system_user("import"))
    assert report.written and report.imported == 5 and report.rows_seen == 5 and not report.errors
    c = Complaint.objects.get(import_record__external_id="A1")
    assert c.description.startswith("发动机异响") and c.step.is_final and c.closed_at is not None
    assert c.received_at == dt.datetime(2024, 1, 6, tzinfo=TZ)
    assert c.number.startswith("TS20240106-") and c.tracking_code
    assert c.triage, "triage applied to every row"
    # the two rows with the same mobile are one customer; mobile normalised
    a2 = Complaint.objects.get(import_record__external_id="A2")
    assert a2.customer_id == c.customer_id and c.customer.mobile == "13800138000"
    assert Complaint.objects.get(import_record__external_id="A5").customer.mobile == "13900139000"
    assert Event.objects.filter(complaint=c, kind="complaint.created").count() == 1
    assert SimilaritySignature.objects.filter(complaint_id=c.pk).exists(), "imported complaints join the duplicate index"


def test_rerun_imports_nothing_twice(db, tmp_path):
    path = write_csv(tmp_path / "a.csv", [["编号", "日期", "内容"], ["X1", "2024/1/6", "发动机异响"],
                                          ["X2", "2024/1/7", "变速箱顿挫"]])
    m = dict(MAPPING, columns={"编号": "external_id", "日期": "received_at", "内容": "description"})
    assert run_import(path, m, actor=system_user("import")).imported == 2
    again = run_import(path, m, actor=system_user("import"))
    assert again.imported == 0 and again.existing == 2
    assert Complaint.objects.count() == 2


def test_all_or_nothing_with_row_level_report(db, tmp_path):
    path = write_csv(tmp_path / "bad.csv", [
        ["编号", "日期", "内容", "手机"],
        ["B1", "2024/1/6", "正常的一行", ""],
        ["B2", "not a date", "日期错误", ""],
        ["B3", "2024/1/6", "=HYPERLINK(\"http://evil.example\",\"点我\")", ""],
        ["B4", "2024/1/6", "手机号错误", "12012345678"],
        ["B5", "2024/1/6", "", ""],
    ])
    report = run_import(path, MAPPING, actor=system_user("import"))
    assert not report.written and report.imported == 0
    assert Complaint.objects.count() == 0, "nothing is partially imported"
    problems: dict = {}
    for e in report.errors:
        problems[(e.row, e.column)] = problems.get((e.row, e.column), "") + e.problem
    assert "无法识别的日期" in problems[(3, "日期")]
    assert "公式" in problems[(4, "内容")]
    assert "手机号" in problems[(5, "手机")]
    assert "投诉内容为空" in problems[(6, "内容")]
    assert "--skip-invalid" in report.message


def test_skip_invalid_writes_rejects(db, tmp_path):
    path = write_csv(tmp_path / "bad.csv", [
        ["编号", "日期", "内容"], ["C1", "2024/1/6", "好的一行"], ["C2", "2099/1/1", "未来的日期"],
        ["C3", "2024/1/6", "=cmd|' /C calc'!A0"]])
    rejects = tmp_path / "rejects.csv"
    m = dict(MAPPING, columns={"编号": "external_id", "日期": "received_at", "内容": "description"})
    report = run_import(path, m, actor=system_user("import"), skip_invalid=True, rejects_path=rejects)
    assert report.imported == 1 and report.rejected == 2
    rows = list(csv.reader(open(rejects, encoding="utf-8-sig")))
    assert rows[0] == ["行号", "编号", "日期", "内容", "错误"]
    assert rows[1][0] == "3" and "晚于当前时间" in rows[1][-1]
    assert rows[2][3].startswith("'="), "the rejects file itself neutralises formulas"


def test_dry_run_writes_nothing(db, tmp_path):
    path = write_csv(tmp_path / "a.csv", [["编号", "日期", "内容"], ["D1", "2024/1/6", "发动机异响"]])
    m = dict(MAPPING, columns={"编号": "external_id", "日期": "received_at", "内容": "description"})
    report = run_import(path, m, actor=system_user("import"), dry_run=True)
    assert report.imported == 1 and not report.written and Complaint.objects.count() == 0


def test_xlsx_with_title_row_and_merged_two_level_header(db, tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["2024 年投诉台账"])
    ws.merge_cells("A1:D1")
    ws.append(["投诉编号", "客户", None, "投诉日期"])
    ws.merge_cells("B2:C2")
    ws.append([None, "姓名", "手机", None])
    ws.append(["E1", "张三", "13800138000", dt.datetime(2024, 1, 6, 9, 30)])
    ws.append([None, None, None, None])
    ws.append(["E2", "李四", "13900139000", 45297])
    path = tmp_path / "ledger.xlsx"
    wb.save(path)
    table = open_table(path)
    table.close()
    assert table.headers == ["投诉编号", "客户姓名", "客户手机", "投诉日期"]
    suggested = mapping_mod.suggest(table.headers)
    assert suggested == {"投诉编号": "external_id", "客户姓名": "customer.name", "客户手机": "customer.mobile",
                         "投诉日期": "received_at"}
    m = {"source": "ledger", "columns": suggested | {}, "closed": False}
    m["columns"]["客户姓名"] = ["customer.name", "description"]
    report = run_import(path, m, actor=system_user("import"))
    assert report.imported == 2, report.to_dict()
    c = Complaint.objects.get(import_record__external_id="E1")
    assert c.customer.name == "张三" and c.closed_at is None and c.step.code == "accept"
    assert c.received_at == dt.datetime(2024, 1, 6, 9, 30, tzinfo=TZ)


def test_suggestions_for_real_headers():
    car = mapping_mod.suggest(["投诉编号", "投诉品牌", "投诉车系", "投诉车型", "投诉简述", "投诉问题", "问题类型", "投诉日期"],
                              {"brand", "series", "vehicle_model"})
    assert car["投诉编号"] == "external_id" and car["投诉日期"] == "received_at"
    assert car["投诉简述"] == "description" and car["投诉问题"] == "category" and car["投诉品牌"] == "about.brand"
    gov = mapping_mod.suggest(["留言编号", "留言用户", "留言主题", "留言时间", "留言详情", "答复意见", "答复时间"])
    assert gov == {"留言编号": "external_id", "留言用户": "customer.name", "留言主题": "subject",
                   "留言时间": "received_at", "留言详情": "description", "答复意见": "ignore", "答复时间": "closed_at"}
    cfpb = mapping_mod.suggest(["Date received", "Product", "Issue", "Consumer complaint narrative", "Complaint ID"])
    assert cfpb == {"Date received": "received_at", "Product": "category", "Issue": "subject",
                    "Consumer complaint narrative": "description", "Complaint ID": "external_id"}


def test_size_limit_and_legacy_xls_refused(db, tmp_path):
    path = write_csv(tmp_path / "a.csv", [["编号", "日期", "内容"]] + [[str(i), "2024/1/6", "x" * 100] for i in range(50)])
    with pytest.raises(TooLarge):
        open_table(path, limit=1000)
    xls = tmp_path / "old.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    with pytest.raises(Invalid, match="xls"):
        open_table(xls)


def test_mapping_errors_name_missing_columns(db, tmp_path):
    path = write_csv(tmp_path / "a.csv", [["编号", "日期"], ["1", "2024/1/6"]])
    with pytest.raises(Invalid) as exc:
        run_import(path, dict(MAPPING), actor=system_user("import"))
    assert "内容" in exc.value.zh


def test_cli_with_map_and_saved_mapping(db, tmp_path):
    path = write_csv(tmp_path / "a.csv", [["编号", "日期", "内容"], ["F1", "2024/1/6", "发动机异响"]])
    out = io.StringIO()
    call_command("import", str(path), "--map", "编号=external_id", "--map", "日期=received_at", "--map",
                 "内容=description", "--source", "cli-test", "--save-mapping", "mine", "--no-progress", stdout=out)
    assert "新增 1" in out.getvalue()
    assert ImportMapping.objects.get(name="mine").columns["编号"] == "external_id"
    out = io.StringIO()
    call_command("import", str(path), "--mapping", "mine", "--no-progress", stdout=out)
    assert "新增 0" in out.getvalue() and "已存在 1" in out.getvalue()
    bad = write_csv(tmp_path / "b.csv", [["编号", "日期", "内容"], ["F2", "bad", "x"]])
    with pytest.raises(CommandError):
        call_command("import", str(bad), "--mapping", "mine", "--dry-run", "--no-progress", stdout=io.StringIO())


@pytest.mark.data
@pytest.mark.parametrize("preset, filename, rows", [
    ("car-complaints", "car_complaints_2024-01-29_to_2024-02-28.csv", 970),
    ("cfpb", "cfpb_complaints_before_2019-07.csv", 5738),
    ("gov-messages", "gov_messages_with_replies_half.csv", 1402),
])
def test_real_files_import_and_rerun_imports_zero(db, preset, filename, rows):
    path = shared_data(filename)
    mapping = mapping_mod.get_mapping(preset)
    report = run_import(path, mapping, actor=system_user("import"), workers=0)
    assert report.written and report.error_count == 0, report.errors[:5]
    assert report.imported + report.duplicates_in_file == rows
    assert ImportedRecord.objects.filter(source=mapping["source"]).count() == report.imported
    again = run_import(path, mapping, actor=system_user("import"), workers=0)
    assert again.imported == 0 and again.existing == report.imported
    sample = Complaint.objects.filter(import_record__source=mapping["source"]).select_related("category").first()
    assert sample.closed_at is not None and sample.triage
    # the queue columns and flags are filled as for a complaint registered one by one
    analysed = Complaint.objects.filter(import_record__source=mapping["source"]).exclude(emotion="")
    assert analysed.count() == report.imported
    flagged = ComplaintFlag.objects.filter(complaint__import_record__source=mapping["source"])
    assert flagged.filter(kind="persona").exists()
    one = analysed.exclude(persona__in=["", "ordinary"]).first()
    assert one is not None and flagged.filter(complaint=one, kind="persona", code=one.persona).exists()
    assert not flagged.filter(code="ordinary").exists()  # the persona column says that one
    # the analytics facts and day counts follow the import (inline in tests; queued otherwise)
    assert ComplaintFact.objects.count() == Complaint.objects.count() == report.imported
    assert sum(Rollup.objects.filter(grain="d", channel=ALL).values_list("n", flat=True)) == report.imported
    if preset == "car-complaints":
        assert Complaint.objects.filter(category__code="pq_engine").count() >= 100
        assert sample.about.get("brand")
    if preset == "gov-messages":
        assert Message.objects.filter(complaint__import_record__source="gov-messages").count() >= rows - 10
    if preset == "cfpb":
        assert Complaint.objects.filter(channel="regulator").exists()


def test_import_page_upload_suggest_dry_run_and_import(people, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client
    from django.urls import reverse

    from qingting.intake.models import ImportJob

    raw = "投诉编号,投诉日期,投诉简述\nP1,2024/1/6,发动机异响\nP2,2024-01-07 10:00,变速箱顿挫\n".encode("gbk")
    client = Client()
    client.force_login(people["supervisor"])
    page = client.post(reverse("intake:import"), {"file": SimpleUploadedFile("历史.csv", raw, content_type="text/csv")})
    html = page.content.decode()
    assert page.status_code == 200 and "gb18030" in html and 'value="external_id" selected' in html
    form = {"col:投诉编号": "external_id", "col:投诉日期": "received_at", "col:投诉简述": "description",
            "source": "page-test", "profile": "general", "closed": "1"}
    resp = client.post(reverse("intake:import"), form | {"dry_run": "1"})
    job = ImportJob.objects.get()
    assert resp.status_code == 302 and job.state == "done" and job.rows_imported == 2 and Complaint.objects.count() == 0
    resp = client.post(reverse("intake:import"), form | {"dry_run": "0", "save_as": "page-mapping"})
    job = ImportJob.objects.order_by("-id").first()
    assert job.state == "done" and Complaint.objects.count() == 2
    data = client.get(reverse("intake:import_job", args=[job.pk]), {"format": "json"}).json()
    assert data["progress"] == 1.0 and data["rows_imported"] == 2
    assert ImportMapping.objects.filter(name="page-mapping").exists()
    assert Client().get(reverse("intake:import")).status_code == 302, "login required"
    auditor = Client()
    auditor.force_login(people["auditor"])
    assert auditor.get(reverse("intake:import")).status_code == 404


def test_the_import_checks_foreign_keys_statement_by_statement(db, tmp_path, monkeypatch):
    """The one-transaction import checks its foreign keys as it writes (while the workers
    analyse the next batches), not all at the commit: on PostgreSQL a row pointing nowhere
    fails at its own statement."""
    from django.db import IntegrityError, connection, transaction

    from qingting.intake.importer import engine

    real = engine.check_keys_per_statement
    if connection.vendor == "postgresql":
        # (first: the setting lasts to the end of the transaction, here the test's)
        with transaction.atomic():  # by default such a row passes its statement (it would fail the commit)
            Event.objects.create(complaint_id=10**12, kind="note")
            transaction.set_rollback(True)
        with pytest.raises(IntegrityError), transaction.atomic():
            real()
            Event.objects.create(complaint_id=10**12, kind="note")
    calls = []
    monkeypatch.setattr(engine, "check_keys_per_statement", lambda: (calls.append(1), real()))
    path = write_csv(tmp_path / "a.csv", [["编号", "日期", "内容"], ["F1", "2024/1/6", "发动机异响"]])
    m = dict(MAPPING, columns={"编号": "external_id", "日期": "received_at", "内容": "description"})
    assert run_import(path, m, actor=system_user("import")).imported == 1
    assert calls == [1]
    assert run_import(path, dict(m, source="test-2"), actor=system_user("import"), skip_invalid=True).imported == 1
    assert calls == [1]  # a transaction per batch checks at each commit, while the workers go on


def test_bulk_write_settings_raise_for_the_transaction_only(transactional_db):
    """The import's transactions merge the search index's pending list in bigger, fewer steps
    (work_mem, gin_pending_list_limit): raised for the transaction, never lowered."""
    from django.db import connection, transaction

    from qingting.intake.importer import engine

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL settings")

    def show(name):
        with connection.cursor() as cur:
            cur.execute(f"SHOW {name}")
            return cur.fetchone()[0]

    def size(text):
        with connection.cursor() as cur:
            cur.execute("SELECT pg_size_bytes(%s)", [text])
            return cur.fetchone()[0]

    names = ("work_mem", "gin_pending_list_limit")
    before = [show(n) for n in names]
    with transaction.atomic():
        engine.bulk_write_settings()
        # the bulk values, or the server's own where it is configured with more
        assert [size(show(n)) for n in names] == [max(size(b), size(v)) for b, v in
                                                  zip(before, (engine.BULK_WORK_MEM, engine.BULK_GIN_PENDING_LIST), strict=True)]
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("SET LOCAL work_mem = '1GB'")
        engine.bulk_write_settings()
        assert show("work_mem") == "1GB"
    assert [show(n) for n in names] == before


def test_the_import_leaves_no_search_keys_pending(db, tmp_path, monkeypatch):
    """Each write transaction of an import takes the bulk settings, and the keys it put in the
    search index's pending list are merged into the index before it ends (every search would
    read the list until then): a merge right after finds nothing left."""
    from django.db import connection

    from qingting.intake.importer import engine

    def pending_pages():  # what a merge finds left in the list (it merges it); SQLite has no such list
        if connection.vendor != "postgresql":
            return 0
        with connection.cursor() as cur:
            cur.execute("SELECT gin_clean_pending_list('complaint_search_keys_gin'::regclass)")
            return cur.fetchone()[0]

    calls = []
    real = engine.bulk_write_settings
    monkeypatch.setattr(engine, "bulk_write_settings", lambda: (calls.append(1), real()))
    rows = [["编号", "日期", "内容"]] + [[f"G{i}", "2024/1/6", f"发动机异响第{i}次，4S店推诿"] for i in range(30)]
    m = dict(MAPPING, columns={"编号": "external_id", "日期": "received_at", "内容": "description"})
    assert run_import(write_csv(tmp_path / "g.csv", rows), m, actor=system_user("import")).imported == 30
    assert calls == [1] and pending_pages() == 0
    assert run_import(write_csv(tmp_path / "g.csv", rows), dict(m, source="test-2"), actor=system_user("import"),
                      skip_invalid=True, batch_size=10).imported == 30
    assert calls == [1, 1, 1, 1]  # one per batch's transaction
    assert pending_pages() == 0


def test_an_import_has_the_statistics_it_made_stale_refreshed(db, tmp_path, monkeypatch,
                                                               django_capture_on_commit_callbacks):
    """Once an import commits, the tables it wrote to are analysed in the background where it added
    more than a tenth of the rows their statistics counted (or they had none): the planner then
    knows the new rows at once, also where autovacuum is off or has not come round yet. Tables it
    did not write to, or wrote too little to, are left."""
    from django.db import connection

    from qingting.intake.importer import engine

    if connection.vendor != "postgresql":
        pytest.skip("planner statistics are PostgreSQL's (SQLite plans without them here)")

    def counted():  # rows of the complaint table by its statistics, and whether received_at has a histogram
        with connection.cursor() as cur:
            cur.execute("SELECT reltuples FROM pg_class WHERE oid = 'complaints_complaint'::regclass")
            tuples = cur.fetchone()[0]
            cur.execute("SELECT count(*) FROM pg_stats WHERE tablename = 'complaints_complaint' AND attname = 'received_at'")
            return tuples, cur.fetchone()[0] > 0

    kicks, seen = [], []
    # the background job, run here on the test's connection (a thread would not see its transaction)
    monkeypatch.setattr(engine.STATISTICS, "kick", lambda key: (kicks.append(key), engine.analyse_tables(key)))
    real = engine.refresh_planner_statistics
    monkeypatch.setattr(engine, "refresh_planner_statistics", lambda written: (seen.append(dict(written)), real(written))[1])

    def run(n, source):
        rows = [["编号", "日期", "内容"]] + [[f"S{i}", f"2024/1/{1 + i % 28}", f"车机死机第{i}次，4S店不处理"] for i in range(n)]
        m = dict(MAPPING, source=source, columns={"编号": "external_id", "日期": "received_at", "内容": "description"})
        with django_capture_on_commit_callbacks(execute=True):
            assert run_import(write_csv(tmp_path / f"{source}.csv", rows), m, actor=system_user("import")).imported == n

    with connection.cursor() as cur:
        cur.execute("ANALYZE complaints_complaint")  # statistics of the table as this test starts: empty
    assert counted()[0] == 0
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        engine.refresh_planner_statistics({"complaints_complaint": 40})
    assert kicks == [] and len(callbacks) == 1  # not before the commit
    run(40, "a")
    assert counted() == (40, True)
    # the rows put in each table (closed history: no step owners; twelve similarity bands per complaint)
    assert {t: n for t, n in seen[-1].items() if n and t != "complaints_complaintflag"} == {
        "complaints_complaint": 40, "complaints_event": 40, "complaints_customer": 40, "intake_importedrecord": 40,
        "intake_similaritysignature": 40, "intake_similarityband": 480}
    assert "complaints_complaint" in kicks[-1].split(",") and "complaints_stepowner" not in kicks[-1]
    before = len(kicks)
    run(3, "b")  # 3 new rows are not more than a tenth of 40: left to autovacuum
    assert counted()[0] == 40 and not any("complaints_complaint" in k.split(",") for k in kicks[before:])
    run(10, "c")
    assert counted()[0] == 53
    table = "complaints_complaint"
    assert engine.stale_statistics({table: 5}) == []  # 5 of 53 rows: not stale
    assert engine.stale_statistics({table: 6, "complaints_message": 0}) == [table]  # only tables written to
    assert engine.stale_statistics({}) == []
    assert engine.analyse_tables("complaints_complaint,no_such_table,") == [table]
    assert engine.analyse_tables("") == []


def test_every_background_job_has_its_celery_task():
    """With a broker, a background job is sent as the Celery task named by its task_name: a name no
    app registers would be lost."""
    from qingting.celery import app
    from qingting.core import background
    from qingting.intake.importer import engine  # noqa: F401  (declares STATISTICS)

    app.loader.import_default_modules()
    names = {job.task_name for job in background._ALL if job.task_name}
    assert "qingting.intake.analyse_tables" in names
    assert names <= set(app.tasks)


def test_imported_complaints_are_indexed_for_similarity(db, tmp_path):
    """Each imported complaint gets its signature and one band row per band key of it (written
    on PostgreSQL as one COPY text, a join per complaint), and is found as similar."""
    from qingting.intake import duplicates
    from qingting.intake.models import SimilarityBand

    texts = ["发动机异响，多次维修未解决，要求退车", "变速箱顿挫严重，4S店一直推诿不处理", "车门生锈，漆面起泡，要求质保"]
    path = write_csv(tmp_path / "s.csv", [["编号", "日期", "内容"]] + [[f"S{i}", "2024/1/6", t] for i, t in enumerate(texts)])
    m = dict(MAPPING, columns={"编号": "external_id", "日期": "received_at", "内容": "description"})
    assert run_import(path, m, actor=system_user("import")).imported == 3
    for c in Complaint.objects.all():
        sig = duplicates.signature(duplicates.text_of(c))
        assert bytes(SimilaritySignature.objects.get(complaint_id=c.pk).signature) == sig.tobytes()
        assert sorted(SimilarityBand.objects.filter(complaint_id=c.pk).values_list("band_key", flat=True)) == \
            sorted(duplicates.band_keys(sig))
        assert c.pk in [cid for cid, _, _ in duplicates.similar_to(duplicates.text_of(c), threshold=0.9)]
