"""The early-warning detector fed from the database, one per industry profile.

The detector (`detection.py`) lives in the memory of the process that feeds it; the database
holds what makes that safe across processes and restarts (`DetectorState`, one row per
profile):

- `last_complaint_id`: every complaint of the profile up to this id has been fed (written on
  every feed, in the same transaction as the hotspots it raised);
- `state`: a snapshot of the detector (`Detector.to_state`, plus the id it was taken at),
  written by the periodic sweep after each tick (`snapshot_at`), not on every complaint.

A feed locks the row. The process's own detector is used when no snapshot was written since
it last fed (only complaints were added since, no tick): it re-feeds what other processes fed
meanwhile — the detector is deterministic, so it ends where they were (up to the order of
complaints received out of time order across feeds); their alerts were raised already, so
they are dropped. Otherwise (a tick elsewhere, a restart) it restores the
snapshot and re-feeds likewise what was fed after it. With no usable snapshot it rebuilds from
the last `CATCH_UP_DAYS` days, counting the complaints without judging the past, and judges
the present once. A failed feed drops the process's detector, so memory never runs ahead of
the database. The terms of each text are stored when the complaint is first fed
(`ComplaintTerms`), so a rebuild reads them instead of segmenting 30 days of texts again.
"""
from __future__ import annotations

import datetime as dt
import itertools
import logging
import threading
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from django.db import connection, transaction
from django.db.models.fields.json import KT
from django.utils import timezone

from qingting.complaints.models import Complaint, ComplaintFlag

from . import detection, textsig
from .models import ComplaintTerms, DetectorProfile, DetectorState

log = logging.getLogger(__name__)

# The 'about' hierarchy of each industry profile, most general first.
HIERARCHY = {
    "auto4s": ("brand", "series", "vehicle_model"),
    "ecommerce": ("shop", "product"),
    "catering": ("store",),
    "finance": ("business_category", "product_name"),
    "medical": ("clinic", "doctor"),
    "general": ("product",),
}
REACH_KEYS = ("likes", "shares", "comments", "followers")
CATCH_UP_DAYS = 30      # an empty detector state starts from this much history
FEED_BATCH = 20000      # complaints fed per call (the next call continues)
READ_CHUNK = 2000       # rows read from the database at a time


def thresholds_for(profile: str) -> detection.Thresholds:
    profiles = detection.load_profiles()
    base = profiles.get(profile, profiles["default"])
    row = DetectorProfile.objects.filter(code=profile).only("values").first()
    if row and row.values:
        try:
            return detection.Thresholds.from_mapping(row.values, source=f"预警阈值 {profile}", base=base)
        except detection.ThresholdsError as exc:
            log.error("crisis thresholds of profile %s are invalid, using the file's: %s", profile, exc)
    return base


def _pairs(values, keys: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """The 'about' hierarchy of a complaint: (key, value) down to the first empty level."""
    pairs = []
    for key, value in zip(keys, values):
        if value in (None, ""):
            break
        pairs.append((key, str(value)[:100]))
    return tuple(pairs)


def _complaints(profile: str, qs, thresholds: detection.Thresholds, *,
                stream: bool = True) -> Iterator[list[detection.Complaint]]:
    """The complaints of `qs` as the detector sees them, in chunks: hierarchy, problem, text,
    triage signals, social reach, and the terms of the text (read when stored, else computed
    and stored). `stream` reads through a server-side cursor (many rows) instead of all at once."""
    keys = HIERARCHY.get(profile, ())
    signals = defaultdict(list)
    for cid, code in ComplaintFlag.objects.filter(complaint__in=qs.values("pk"), kind=ComplaintFlag.Kind.SIGNAL
                                                  ).values_list("complaint", "code"):
        signals[cid].append(code)
    rows = qs.values_list("pk", "received_at", "subject", "description", "about", "category__code",
                          "category__name", "customer_id", "crisis_terms__terms")
    terms = _Terms(thresholds)
    chunk: list[detection.Complaint] = []
    for pk, received_at, subject, description, about, problem, label, customer_id, stored in (
            rows.iterator(chunk_size=READ_CHUNK) if stream else rows):
        text = f"{subject}\n{description}"
        about = about if isinstance(about, dict) else {}
        reach = {k: about[k] for k in REACH_KEYS if isinstance(about.get(k), (int, float))}
        chunk.append(detection.Complaint(
            id=str(pk), received_at=received_at, text=text, about=_pairs(map(about.get, keys), keys),
            problem=problem, problem_label=label if problem else None, signals=frozenset(signals.get(pk, ())),
            reach=reach, customer_id=str(customer_id), terms=terms.of(pk, received_at, stored, text)))
        if len(chunk) >= READ_CHUNK:
            terms.store()
            yield chunk
            chunk = []
    terms.store()
    if chunk:
        yield chunk


def _past_complaints(profile: str, qs, thresholds: detection.Thresholds) -> Iterator[detection.Complaint]:
    """Complaints before the window, as much as the detector counts of them: their groups (the
    hierarchy read out of 'about' by the database, the problem, the stored terms). Those whose
    terms were never stored are read again in full, last."""
    keys = HIERARCHY.get(profile, ())
    rows = qs.values_list("pk", "received_at", "category__code", "category__name", "crisis_terms__terms",
                          *(KT(f"about__{k}") for k in keys))
    unread: list[int] = []
    for pk, received_at, problem, label, stored, *about in rows.iterator(chunk_size=READ_CHUNK):
        if stored is None:
            unread.append(pk)
            continue
        yield detection.Complaint(id=str(pk), received_at=received_at, about=_pairs(about, keys), problem=problem,
                                  problem_label=label if problem else None, terms=frozenset(stored.split()))
    for i in range(0, len(unread), READ_CHUNK):
        for chunk in _complaints(profile, Complaint.objects.filter(pk__in=unread[i:i + READ_CHUNK]), thresholds,
                                 stream=False):
            yield from chunk


class _Terms:
    """The terms of texts: stored ones read, missing ones computed and stored in batches."""

    def __init__(self, thresholds: detection.Thresholds):
        self.freq = thresholds.text_common_word_freq
        self.missing: list[ComplaintTerms] = []

    def of(self, pk: int, received_at, stored: str | None, text: str) -> frozenset[str]:
        if stored is not None:
            return frozenset(stored.split())
        terms = frozenset(textsig.raw_terms(text, self.freq))
        self.missing.append(ComplaintTerms(complaint_id=pk, received_at=received_at, terms=" ".join(sorted(terms))))
        return terms

    def store(self) -> None:
        if self.missing:
            ComplaintTerms.objects.bulk_create(self.missing, ignore_conflicts=True, batch_size=1000)
            self.missing = []


def forget_old_terms(now) -> None:
    """Stored text terms older than a rebuild reads are no longer needed."""
    ComplaintTerms.objects.filter(received_at__lt=now - dt.timedelta(days=CATCH_UP_DAYS + 1)).delete()


def _of_profile(profile: str):
    return Complaint.objects.filter(profile__code=profile)


@dataclass
class _Held:
    detector: detection.Detector
    fed: int                          # last complaint id fed
    snapshot_at: dt.datetime | None   # the snapshot current when this process last fed (no tick since)
    thresholds: detection.Thresholds


_held: dict[str, _Held] = {}
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


class Feed:
    """One feed of a profile's detector, inside its transaction (see `feeding`)."""

    def __init__(self, profile: str, row: DetectorState, detector: detection.Detector, fed: int,
                 alerts: list[detection.Alert] | None = None):
        self.profile, self.row, self.detector, self.fed = profile, row, detector, fed
        self.alerts = alerts or []    # raised while restoring (judging the present after a rebuild)
        self.snapshot = False         # set to write a snapshot of the detector at the end

    def feed_new(self, limit: int = FEED_BATCH) -> list[detection.Alert]:
        """Feed the complaints not fed yet (at most `limit`, oldest id first; a batch in time order)."""
        qs = _of_profile(self.profile).filter(pk__gt=self.fed).order_by("pk")[:limit]
        rows = [c for chunk in _complaints(self.profile, qs, self.detector.t, stream=False) for c in chunk]
        rows.sort(key=lambda c: (c.received_at, int(c.id)))
        alerts: list[detection.Alert] = []
        for c in rows:
            alerts += self.detector.add(c)
        if rows:
            self.fed = max(int(c.id) for c in rows)
        return alerts

    def catch_up(self, upto: int) -> None:
        """Feed again what another process fed up to `upto`: the detector ends where that
        process was; the alerts were raised then, they are dropped."""
        if upto <= self.fed:
            return
        qs = _of_profile(self.profile).filter(pk__gt=self.fed, pk__lte=upto).order_by("pk")
        for chunk in _complaints(self.profile, qs, self.detector.t):
            chunk.sort(key=lambda c: (c.received_at, int(c.id)))
            for c in chunk:
                self.detector.add(c)
        self.fed = upto

    def _save(self) -> None:
        self.row.last_complaint_id = self.fed
        self.row.updated_at = timezone.now()
        fields = ["last_complaint_id", "updated_at"]
        if self.snapshot:
            self.row.state = {**self.detector.to_state(), "complaint_id": self.fed}
            self.row.snapshot_at = self.row.updated_at
            fields += ["state", "snapshot_at"]
        self.row.save(update_fields=fields)


def _lock(profile: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(profile, threading.Lock())


def _no_commit_wait() -> None:
    """PostgreSQL: this transaction's commit does not wait for its WAL to reach the disk. A crash
    can lose it whole — the watermark with the hotspots it raised — and the next feed does the
    same again; nothing else is written here. Saves a disk flush on every complaint."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SET LOCAL synchronous_commit TO OFF")


@contextmanager
def feeding(profile: str, *, now=None) -> Iterator[Feed]:
    """Lock the profile's detector (threads of this process, and its state row across
    processes) inside one durable transaction and yield a `Feed`; on success the row is
    updated, on failure the process forgets its detector."""
    now = now or timezone.now()
    with _lock(profile):
        try:
            with transaction.atomic(durable=True):
                _no_commit_wait()
                rows = DetectorState.objects.select_for_update().defer("state").filter(profile=profile)
                row = rows.first()
                if row is None:
                    DetectorState.objects.get_or_create(profile=profile)
                    row = rows.get()
                thresholds = thresholds_for(profile)
                held = _held.pop(profile, None)
                if (held is not None and held.thresholds == thresholds and held.snapshot_at == row.snapshot_at
                        and held.fed <= row.last_complaint_id):
                    feed = Feed(profile, row, held.detector, held.fed)   # no snapshot (tick) since: only adds
                    feed.catch_up(row.last_complaint_id)
                else:
                    feed = _restore(profile, row, thresholds, now)
                yield feed
                feed._save()
        except BaseException:
            _held.pop(profile, None)
            raise
        _held[profile] = _Held(feed.detector, feed.fed, row.snapshot_at, thresholds)


def _restore(profile: str, row: DetectorState, thresholds: detection.Thresholds, now) -> Feed:
    """The detector from the snapshot and what was fed after it; without a usable snapshot, a rebuild."""
    state = DetectorState.objects.filter(pk=row.pk).values_list("state", flat=True).first() or {}
    if state:
        try:
            detector = detection.Detector.from_state(state, thresholds)
            since = int(state.get("complaint_id", row.last_complaint_id))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("crisis detector state of %s unreadable (%s); rebuilding", profile, exc)
        else:
            if since <= row.last_complaint_id:
                feed = Feed(profile, row, detector, since)
                feed.catch_up(row.last_complaint_id)
                return feed
    return rebuild(profile, row, thresholds, now)


def rebuild(profile: str, row: DetectorState, thresholds: detection.Thresholds, now) -> Feed:
    """A new detector from the complaints received in the last CATCH_UP_DAYS days: counted
    without judging the past, then the present judged once (those alerts are new)."""
    detector = detection.Detector(thresholds)
    last = _of_profile(profile).order_by("-pk").values_list("pk", flat=True).first() or 0
    qs = _of_profile(profile).filter(pk__lte=last)
    # before the window the detector needs the groups only; inside it the texts and signals too
    edge = now - dt.timedelta(hours=detector.model.keep + 1)
    past = qs.filter(received_at__gte=now - dt.timedelta(days=CATCH_UP_DAYS), received_at__lt=edge)
    recent = qs.filter(received_at__gte=edge).order_by("received_at", "pk")
    detector.count_history(itertools.chain(_past_complaints(profile, past, thresholds),
                                           itertools.chain.from_iterable(_complaints(profile, recent, thresholds))),
                           now)
    feed = Feed(profile, row, detector, last, detector.tick(now))
    feed.snapshot = True
    return feed
