"""JSONTextField: the triage snapshot is kept as JSON text (not jsonb) and reads back as the
same document however it was written (ORM, values_list, bulk import, migration both ways)."""
import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from qingting.complaints.models import Complaint
from qingting.core.fields import JSONTextField

pytestmark = pytest.mark.django_db

DOC = {"priority": {"code": "P1", "reason": "P1：涉及人身安全（刹车失灵）"}, "scores": [0.5, 1, None, True],
       "evidence": [{"text": "“刹车”\n\\失灵\u2028", "start": 0, "end": 2}], "empty": {}, "emoji": "😡"}


def test_document_reads_back_the_same_way_it_was_written(new_complaint):
    c = new_complaint(subject="刹车失灵", description="高速上刹车突然失灵")
    Complaint.objects.filter(pk=c.pk).update(triage=DOC)
    assert Complaint.objects.get(pk=c.pk).triage == DOC
    assert dict(Complaint.objects.filter(pk=c.pk).values_list("id", "triage")) == {c.pk: DOC}
    c.triage = {}
    c.save(update_fields=["triage"])
    c.refresh_from_db()
    assert c.triage == {}


def test_created_complaint_keeps_its_triage_as_text_on_postgresql(new_complaint):
    c = new_complaint(subject="刹车失灵", description="高速上刹车突然失灵，差点出事故！")
    assert Complaint.objects.get(pk=c.pk).triage["priority"]["code"] == "P1"
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT data_type FROM information_schema.columns "
                        "WHERE table_name = 'complaints_complaint' AND column_name = 'triage'")
            assert cur.fetchone()[0] == "text"
            cur.execute("SELECT triage FROM complaints_complaint WHERE id = %s", [c.pk])
            assert '"code":"P1"' in cur.fetchone()[0]  # compact JSON, the characters as they are


def test_invalid_json_text_is_a_validation_error_in_both_languages():
    field = JSONTextField()
    assert field.to_python('{"a": [1, "二"]}') == {"a": [1, "二"]}
    with pytest.raises(ValidationError) as err:
        field.to_python("{not json")
    assert "不是有效的 JSON" in str(err.value) and "not valid JSON" in str(err.value)


@pytest.mark.django_db(transaction=True)
def test_migration_to_text_and_back_keeps_the_documents(new_complaint):
    from django.db.migrations.executor import MigrationExecutor

    c = new_complaint(subject="刹车失灵", description="高速上刹车突然失灵")
    Complaint.objects.filter(pk=c.pk).update(triage=DOC)
    executor = MigrationExecutor(connection)
    executor.migrate([("complaints", "0009_flag_complaint_index_in_unique")])  # back: jsonb on PostgreSQL
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT triage -> 'priority' ->> 'code' FROM complaints_complaint WHERE id = %s", [c.pk])
            assert cur.fetchone()[0] == "P1"
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert Complaint.objects.get(pk=c.pk).triage == DOC
