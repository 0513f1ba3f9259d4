"""core.db.in_ids: a long id list as one array parameter on PostgreSQL, the list elsewhere —
the same rows either way."""
import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from qingting.core.db import in_ids, in_texts

pytestmark = pytest.mark.django_db


def test_in_ids_selects_the_same_rows_as_a_list():
    User = get_user_model()
    users = [User.objects.create(username=f"u{i}") for i in range(5)]
    wanted = [users[0].pk, users[3].pk, 10**12, users[3].pk]
    got = set(User.objects.filter(pk__in=in_ids(wanted)).values_list("pk", flat=True))
    assert got == {users[0].pk, users[3].pk} == set(User.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    assert not User.objects.filter(pk__in=in_ids([])).exists()
    assert set(User.objects.filter(pk__in=in_ids(str(u.pk) for u in users[:2])).values_list("pk", flat=True)) == \
        {users[0].pk, users[1].pk}
    if connection.vendor == "postgresql":  # one parameter, whatever the number of ids
        many = list(range(1, 20001))
        sql, params = User.objects.filter(pk__in=in_ids(many)).values_list("pk").query.sql_with_params()
        assert "unnest" in sql and len(params) == 1
        assert User.objects.filter(pk__in=in_ids(many)).count() == User.objects.filter(pk__lte=20000).count()


def test_in_ids_refuses_what_is_not_an_id():
    with pytest.raises((TypeError, ValueError)):
        in_ids(["1; DROP TABLE x"])


def test_in_texts_selects_the_same_rows_as_a_list():
    User = get_user_model()
    for name in ("张三", "o'brien", "a,b", "{x}", 'q"uote'):
        User.objects.create(username=name)
    wanted = ["张三", "o'brien", "a,b", "{x}", 'q"uote', "nobody"]
    got = set(User.objects.filter(username__in=in_texts(wanted)).values_list("username", flat=True))
    assert got == set(wanted) - {"nobody"}
    assert not User.objects.filter(username__in=in_texts([])).exists()
