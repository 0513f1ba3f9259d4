"""Model fields shared by the apps."""
from __future__ import annotations

import orjson
from django import forms
from django.core import exceptions
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


class JSONTextField(models.TextField):
    """A JSON document the database never looks inside, kept as text.

    For `Complaint.triage` (≈ 3 kB): PostgreSQL parses every jsonb value it is given and
    compresses a binary form that compresses worse than the text; inserting 40k complaints
    took 75–90 µs per row with the snapshot as jsonb and 27–43 µs as text (bulk import,
    docs/import.md). No query filters on such a document; where one must, keep a JSONField."""

    description = "JSON stored as text"
    empty_strings_allowed = False

    def get_prep_value(self, value):
        if value is None:
            return None
        return dumps_json(value)

    def from_db_value(self, value, expression, connection):
        return None if value is None else orjson.loads(value)

    def to_python(self, value):
        if not isinstance(value, str):
            return value
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            raise exceptions.ValidationError(f"不是有效的 JSON / not valid JSON: {exc}", code="invalid") from exc

    def value_to_string(self, obj):
        return dumps_json(self.value_from_object(obj))

    def formfield(self, **kwargs):
        return super(models.TextField, self).formfield(**{"form_class": forms.JSONField, **kwargs})


def dumps_json(value) -> str:
    """Compact JSON with the characters as they are (what json.dumps(ensure_ascii=False,
    separators=(",", ":")) gives), several times faster."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
