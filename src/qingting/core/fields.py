"""Model fields shared by the apps."""
from __future__ import annotations

from django.db import models


def keys_as_text(keys) -> str:
    """Search keys as SQLite stores them: space-separated with a space at each end, so a
    key is found with LIKE '% key %'."""
    return f" {' '.join(map(str, keys))} " if keys else ""


def keys_as_array(keys) -> str:
    """Search keys as PostgreSQL's bigint[] text: psycopg's list dumper handles each element in
    Python (≈ 1 µs each, 0.1 ms for a complaint's hundred keys); this is ten times cheaper."""
    return "{" + ",".join(map(str, keys)) + "}"


def keys_db_value(keys, connection) -> str:
    """Search keys as a `SearchKeysField` column of `connection`'s database stores them."""
    return keys_as_array(keys) if connection.vendor == "postgresql" else keys_as_text(keys)


class SearchKeysField(models.Field):
    """A list of search keys (`qingting.core.text.search_keys`): bigint[] under a GIN index on
    PostgreSQL (searched with @>), space-separated text elsewhere (searched with LIKE)."""

    description = "search keys"

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("default", list)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        for key, value in (("default", list), ("blank", True), ("editable", False)):
            if kwargs.get(key) is value:
                del kwargs[key]
        return name, path, args, kwargs

    def db_type(self, connection):
        return "bigint[]" if connection.vendor == "postgresql" else "text"

    def get_db_prep_value(self, value, connection, prepared=False):
        if value is None:
            return None
        return keys_db_value([int(k) for k in value], connection)

    def from_db_value(self, value, expression, connection):
        return self.to_python(value)

    def to_python(self, value):
        if value is None or isinstance(value, list):
            return value or []
        if isinstance(value, str):
            return [int(k) for k in value.split()]
        return list(value)
