"""Small helpers for set-based SQL that Django's ORM does not offer directly."""
from __future__ import annotations

from django.db import connection
from django.db.models.expressions import RawSQL

from .fields import keys_as_array


def in_ids(ids):
    """The right-hand side of `field__in` for a long list of integer ids (thousands, e.g. a batch of
    facts). On PostgreSQL one array parameter (`IN (SELECT unnest(%s::bigint[]))`) instead of one
    placeholder per id, which Django and psycopg prepare one by one (selecting 5,000 complaints by
    id: 32 ms of CPU with the list, 14 ms with the array). Elsewhere the list itself."""
    ids = [int(i) for i in ids]
    if connection.vendor == "postgresql":  # the array as its text: psycopg's list dumper takes ≈ 1 µs an item
        return RawSQL("SELECT unnest(%s::bigint[])", (keys_as_array(ids),))
    return ids


def in_texts(values):
    """`in_ids` for strings (external ids, mobiles): one text[] parameter on PostgreSQL (1,000
    external ids: 2.1–2.3 ms instead of 8.0–8.5 ms of CPU), the list elsewhere."""
    values = [str(v) for v in values]
    if connection.vendor == "postgresql":
        return RawSQL("SELECT unnest(%s::text[])", (values,))
    return values
