"""The import engine: validate every row, then write in batches with bulk_create.

All-or-nothing (default): a validation pass over the whole file; any invalid row stops
the import before anything is written; then one transaction writes every new row.
`skip_invalid`: one pass; valid rows are written (one transaction per batch), invalid
ones go to the report and the rejects file. Re-running skips (source, external_id)
pairs already imported (`ImportedRecord`), so an interrupted import is simply re-run.

The fast path builds Complaint, Event, ImportedRecord (and Message for a historical
reply) rows directly: numbers from `reserve_numbers(day, n)` for the day the complaint
was received, tracking codes from `new_tracking_code()`, search keys from
`search_keys`, triage from `triage_link.analyze_complaint`. Customers are matched by
normalised mobile / e-mail. Complaints imported as closed history do not run the
`created` hooks (no deadlines for the past) but the `imported` hook, once per batch (the
analytics facts are queued and computed in the background); open ones run `created`.
"""
from __future__ import annotations

import csv
import datetime as dt
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.utils import timezone

from qingting.accounts.models import Department
from qingting.complaints import hooks, services, triage_link
from qingting.complaints.models import (Category, Complaint, ComplaintFlag, Customer, Event, IndustryProfile,
                                        Message, Priority, StepOwner)
from qingting.complaints.profiles import validate_about
from qingting.core import background
from qingting.core.db import in_texts
from qingting.core.errors import Invalid, ServiceError
from qingting.core.fields import dumps_json
from qingting.core.text import normalise_email, normalise_mobile, search_key_array, search_tokens, token_key

from ..models import ImportedRecord, ImportJob, SimilarityBand, SimilaritySignature
from . import fastinsert
from .dates import parse_datetime
from .mapping import check_mapping
from .readers import open_table

BATCH = 1000
MAX_REPORTED_ERRORS = 1000
FORMULA = re.compile(r"^(=|[+\-@]\s*[A-Za-z_][\w.]*\s*[(!|])")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
PRIORITY_WORDS = {"紧急": "P1", "高": "P2", "中": "P3", "低": "P4", "urgent": "P1", "high": "P2", "medium": "P3",
                  "normal": "P3", "low": "P4"}


@dataclass
class RowError:
    row: int
    column: str
    problem: str

    def to_dict(self):
        return {"row": self.row, "column": self.column, "problem": self.problem}


@dataclass
class Report:
    rows_seen: int = 0
    imported: int = 0
    existing: int = 0
    rejected: int = 0
    duplicates_in_file: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    dry_run: bool = False
    written: bool = False
    seconds: float = 0.0
    message: str = ""

    def add_error(self, err: RowError):
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(err)

    def to_dict(self):
        return {"rows_seen": self.rows_seen, "imported": self.imported, "existing": self.existing,
                "rejected": self.rejected, "duplicates_in_file": self.duplicates_in_file,
                "error_count": self.error_count, "errors": [e.to_dict() for e in self.errors],
                "dry_run": self.dry_run, "written": self.written, "seconds": round(self.seconds, 2),
                "message": self.message}


@dataclass
class Row:
    rownum: int
    raw: list
    external_id: str = ""
    received_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    subject: str = ""
    description: str = ""
    customer: dict = field(default_factory=dict)
    category: Category | None = None
    priority: str | None = None
    channel: str = "import"
    department: Department | None = None
    about: dict = field(default_factory=dict)
    reply: str = ""
    extra: dict = field(default_factory=dict)


class Plan:
    """The mapping applied to one file's headers (lookups cached for speed)."""

    def __init__(self, mapping: dict, headers: list[str]):
        self.mapping = mapping
        self.headers = headers
        self.profile = IndustryProfile.objects.filter(code=mapping.get("profile") or "general").first()
        if self.profile is None:
            raise Invalid(f"行业配置「{mapping.get('profile')}」不存在", f"Unknown profile {mapping.get('profile')!r}")
        fields_ = {f["key"] for f in self.profile.fields or []}
        problems = check_mapping(mapping, fields_)
        missing = [h for h in mapping["columns"] if h not in headers]
        if missing:
            problems.append("文件中没有这些列：" + "、".join(missing) + "（文件的列：" + "、".join(h for h in headers if h) + "）")
        if problems:
            raise Invalid("映射有误：" + "；".join(problems), "Invalid mapping: " + "; ".join(problems), code="bad_mapping",
                          fields={"mapping": problems})
        self.columns: list[tuple[int, str, list[str]]] = []
        mapped = set()
        for idx, header in enumerate(headers):
            if header in mapping["columns"]:
                targets = mapping["columns"][header]
                targets = [targets] if isinstance(targets, str) else list(targets)
                self.columns.append((idx, header, [t for t in targets if t != "ignore"]))
                mapped.add(idx)
        self.unmapped = [(idx, h) for idx, h in enumerate(headers) if idx not in mapped and h]
        self.values = {k: {str(a): b for a, b in v.items()} for k, v in (mapping.get("values") or {}).items()}
        self.closed = bool(mapping.get("closed", True))
        self.default_channel = services.parse_channel(mapping.get("channel") or "import")
        self.source = mapping["source"]
        self.categories = {}
        for cat in Category.objects.filter(active=True).select_related("parent"):
            self.categories.setdefault(cat.code, cat)
            self.categories.setdefault(cat.name, cat)
        self.departments = {}
        for d in Department.objects.all():
            self.departments.setdefault(d.code, d)
            self.departments.setdefault(d.name, d)
        self.default_department = None
        if mapping.get("department"):
            self.default_department = self.departments.get(mapping["department"])
            if self.default_department is None:
                raise Invalid(f"部门「{mapping['department']}」不存在", f"Unknown department {mapping['department']!r}")
        self.now = timezone.now()


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return _CONTROL.sub("", str(value)).strip()


def parse_row(plan: Plan, rownum: int, values: list) -> tuple[Row | None, list[RowError]]:
    row = Row(rownum=rownum, raw=values, channel=plan.default_channel, department=plan.default_department)
    errors: list[RowError] = []
    desc_parts, subj_parts, notes = [], [], []
    received_raw = closed_raw = None
    about_cols = {}
    for idx, header, targets in plan.columns:
        value = values[idx] if idx < len(values) else ""
        text = _text(value)
        if text and FORMULA.match(text):
            errors.append(RowError(rownum, header, f"疑似公式注入（以「{text[:1]}」开头的公式），已拒绝 / formula injection refused"))
            continue
        for target in targets:
            mapped = plan.values.get(target, {}).get(text, text) if text else text
            if target == "external_id":
                row.external_id = mapped
            elif target == "received_at":
                received_raw = (header, value if not isinstance(value, str) else text)
            elif target == "closed_at":
                closed_raw = (header, value if not isinstance(value, str) else text)
            elif target == "subject":
                if mapped:
                    subj_parts.append(mapped)
            elif target == "description":
                if mapped:
                    desc_parts.append(mapped)
            elif target == "note":
                if mapped:
                    notes.append(f"{header}：{mapped}")
            elif target.startswith("customer."):
                row.customer[target[9:]] = mapped
                row.customer.setdefault("_cols", {})[target[9:]] = header
            elif target == "category":
                if mapped:
                    cat = plan.categories.get(mapped)
                    if cat is None:
                        notes.append(f"{header}：{text}")
                    elif row.category is None:
                        row.category = cat
            elif target == "priority":
                if mapped:
                    p = PRIORITY_WORDS.get(mapped.lower(), mapped.upper())
                    if p not in Priority.values:
                        errors.append(RowError(rownum, header, f"优先级「{text}」无效（P1–P4 或 紧急/高/中/低）"))
                    else:
                        row.priority = p
            elif target == "channel":
                if mapped:
                    try:
                        row.channel = services.parse_channel(mapped)
                    except ServiceError:
                        errors.append(RowError(rownum, header, f"渠道「{text}」无效（可在映射的 values.channel 中对应）"))
            elif target == "department":
                if mapped:
                    dept = plan.departments.get(mapped)
                    if dept is None:
                        errors.append(RowError(rownum, header, f"部门「{text}」不存在"))
                    else:
                        row.department = dept
            elif target == "reply":
                row.reply = mapped
            elif target.startswith("about."):
                if mapped:
                    row.about[target[6:]] = mapped
                    about_cols[target[6:]] = header
    # external id
    ext_col = next((h for _, h, t in plan.columns if "external_id" in t), "external_id")
    if not row.external_id:
        errors.append(RowError(rownum, ext_col, "外部编号为空 / external id is empty"))
    elif len(row.external_id) > 128:
        errors.append(RowError(rownum, ext_col, "外部编号超过 128 个字符"))
    # dates
    if received_raw is None or received_raw[1] in (None, ""):
        errors.append(RowError(rownum, received_raw[0] if received_raw else "received_at", "投诉时间为空 / date is empty"))
    else:
        try:
            row.received_at = parse_datetime(received_raw[1])
            if row.received_at > plan.now + dt.timedelta(minutes=5):
                errors.append(RowError(rownum, received_raw[0], "投诉时间晚于当前时间 / date in the future"))
            elif row.received_at < plan.now - dt.timedelta(days=365 * 20):
                errors.append(RowError(rownum, received_raw[0], "投诉时间早于 20 年前 / date too old"))
        except ValueError as exc:
            errors.append(RowError(rownum, received_raw[0], str(exc)))
    if closed_raw is not None and closed_raw[1] not in (None, ""):
        try:
            row.closed_at = parse_datetime(closed_raw[1])
        except ValueError as exc:
            errors.append(RowError(rownum, closed_raw[0], str(exc)))
    # text
    row.description = "\n".join(desc_parts)
    row.subject = " ".join(subj_parts)
    if not row.description:
        row.description = row.subject
    if notes:
        row.description = (row.description + "\n\n" if row.description else "") + "\n".join(notes)
    if not row.description:
        col = next((h for _, h, t in plan.columns if "description" in t or "subject" in t), "description")
        errors.append(RowError(rownum, col, "投诉内容为空 / no complaint text"))
    elif len(row.description) > services.DESCRIPTION_MAX:
        col = next((h for _, h, t in plan.columns if "description" in t), "description")
        errors.append(RowError(rownum, col, f"投诉内容过长（{len(row.description)} 字，上限 {services.DESCRIPTION_MAX}）"))
    if not row.subject:
        first = (desc_parts[0] if desc_parts else row.description).split("\n", 1)[0]
        row.subject = first[:60] + ("…" if len(first) > 60 else "")
    if len(row.subject) > services.SUBJECT_MAX:
        row.subject = row.subject[:services.SUBJECT_MAX - 1] + "…"
    # customer
    cols = row.customer.pop("_cols", {})
    if row.customer.get("mobile"):
        mobile = normalise_mobile(row.customer["mobile"])
        if not 5 <= len(mobile) <= 20 or (len(mobile) == 11 and mobile.startswith("1")
                                          and not re.fullmatch(r"1[3-9]\d{9}", mobile)):
            errors.append(RowError(rownum, cols.get("mobile", "mobile"), f"手机号「{row.customer['mobile']}」格式不正确"))
        row.customer["mobile"] = mobile
    if row.customer.get("email"):
        email = normalise_email(row.customer["email"])
        try:
            validate_email(email)
        except ValidationError:
            errors.append(RowError(rownum, cols.get("email", "email"), f"邮箱「{row.customer['email']}」格式不正确"))
        row.customer["email"] = email
    row.customer["name"] = (row.customer.get("name") or "匿名客户")[:services.NAME_MAX]
    # profile fields
    if row.about:
        try:
            row.about = validate_about(plan.profile, row.about)
        except Invalid as exc:
            for key, problem in exc.fields.items():
                errors.append(RowError(rownum, about_cols.get(key.split(".", 1)[-1], key), str(problem)))
    # unmapped columns kept with the import record
    for idx, header in plan.unmapped:
        if idx < len(values):
            text = _text(values[idx])
            if text:
                row.extra[header] = text[:2000]
    return (None if errors else row), errors


# ------------------------------------------------------------------ writing

def analyse(items: list[tuple]) -> list[tuple]:
    """CPU-bound work per row, run in worker processes for big files.

    (subject, description, channel, profile, name) → (triage JSON, priority, category keys,
    search key array without the number's, signature bytes | None, band keys, the triage columns
    (emotion, persona …), the flag rows).
    """
    from qingting.intake import duplicates

    out = []
    for subject, description, channel, profile, name in items:
        analysis = triage_link.analyze_complaint(subject=subject, description=description, channel=channel,
                                                 profile=profile, customer=None) or {}
        p = analysis.get("priority")
        prio = p.get("code") if isinstance(p, dict) and p.get("code") in Priority.values else None
        keys = []
        cat = analysis.get("category")
        if isinstance(cat, dict):
            for level in ("level2", "level1"):
                item = cat.get(level)
                if isinstance(item, dict):
                    keys += [item.get("code") or "", item.get("zh") or "", item.get("name") or ""]
        sig = duplicates.signature(f"{subject}\n{description}")
        out.append((dumps_json(analysis), prio, keys, search_key_array(subject, description, name),
                    sig.tobytes() if sig is not None else None,
                    duplicates.band_keys(sig) if sig is not None else [],
                    triage_link.triage_columns(analysis), triage_link.triage_flags(analysis)))
    return out


class Columns:
    """A model's columns in table order, with every default prepared once."""

    def __init__(self, model, with_pk: bool = True):
        from django.db import models as m

        self.model = model
        self.fields = [f for f in model._meta.concrete_fields if with_pk or not f.primary_key]
        self.columns = [f.column for f in self.fields]
        self.defaults = []
        for f in self.fields:
            default = f.get_default()
            if isinstance(f, m.JSONField):
                default = dumps_json(default if default is not None else {})
            self.defaults.append(default)
        self.position = {f.attname: i for i, f in enumerate(self.fields)}

    def row(self, **values) -> tuple:
        """The defaults with `values` (by attname; an unknown name is a KeyError) in their places."""
        row, position = self.defaults.copy(), self.position
        for name, value in values.items():
            row[position[name]] = value
        return tuple(row)

    def insert(self, rows):
        fastinsert.insert_rows(self.model, self.columns, rows)


_COLUMNS: dict = {}


def cols(model, with_pk: bool = True) -> Columns:
    if (model, with_pk) not in _COLUMNS:
        _COLUMNS[(model, with_pk)] = Columns(model, with_pk)
    return _COLUMNS[(model, with_pk)]


def number_keys(number: str) -> list[int]:
    """The search keys of a complaint number (two words: TSyyyymmdd, nnnnnn); without the
    vector steps of `search_key_array`, which cost more than they save on so short a text."""
    return [token_key(t) for t in search_tokens(number)]


def _customers_for(rows: list[Row]) -> int:
    """Find or create the rows' customers (r.customer["id"]); returns how many were created."""
    mobiles = {r.customer["mobile"] for r in rows if r.customer.get("mobile")}
    emails = {r.customer["email"] for r in rows if r.customer.get("email")}
    by_mobile, by_email = {}, {}
    if mobiles:
        for pk, mobile in Customer.objects.with_mobile_in(mobiles).order_by("-id").values_list("id", "mobile"):
            by_mobile[mobile] = pk
    if emails:
        for pk, email in Customer.objects.with_email_in(emails).order_by("-id").values_list("id", "email"):
            by_email[email] = pk
    fresh = [r for r in rows if not ((r.customer.get("mobile") and r.customer["mobile"] in by_mobile) or
                                     (r.customer.get("email") and r.customer["email"] in by_email))]
    ids = iter(fastinsert.next_ids(Customer, len(fresh)))
    now = timezone.now()
    new_rows = []
    c = cols(Customer)
    for r in rows:
        mobile, email = r.customer.get("mobile") or "", r.customer.get("email") or ""
        pk = (by_mobile.get(mobile) if mobile else None) or (by_email.get(email) if email else None)
        if pk is None:
            pk = next(ids)
            new_rows.append(c.row(id=pk, name=r.customer["name"], mobile=mobile, email=email, created_at=now))
            if mobile:
                by_mobile[mobile] = pk
            if email:
                by_email[email] = pk
        r.customer["id"] = pk
    c.insert(new_rows)
    return len(new_rows)


def write_rows(plan: Plan, rows: list[Row], analyses: list[tuple], *, actor, variant, first_step, final_step,
               written: Counter) -> int:
    """Write one batch of valid, new rows (the caller holds the transaction). `written` counts the
    rows put in each table (by table name)."""
    if not rows:
        return 0
    new_customers = _customers_for(rows)
    by_day: dict[dt.date, list[Row]] = {}
    tz = timezone.get_current_timezone()  # (timezone.localdate looks it up on every call)
    for r in rows:
        by_day.setdefault(r.received_at.astimezone(tz).date(), []).append(r)
    numbers: dict[int, str] = {}
    reserved = services.reserve_numbers_by_day({day: len(day_rows) for day, day_rows in by_day.items()})
    for day, day_rows in by_day.items():
        for r, number in zip(day_rows, reserved[day]):
            numbers[id(r)] = number
    now = timezone.now()
    ids = fastinsert.next_ids(Complaint, len(rows))
    closed = plan.closed
    step = final_step if closed else first_step
    actor_id = actor.pk if getattr(actor, "pk", None) else None
    cc, ce, cm, co = cols(Complaint), cols(Event, False), cols(Message, False), cols(StepOwner, False)
    complaints, events, records, messages, owners, index = [], [], [], [], [], []
    flags = []
    for r, pk, (triage_json, prio, cat_keys, doc_keys, sig, bands, triage_cols, triage_flags) in zip(rows, ids, analyses):
        number = numbers[id(r)]
        cat = r.category
        if cat is None:
            cat = next((plan.categories[k] for k in cat_keys if k and k in plan.categories), None)
        priority = r.priority or prio or Priority.P3
        closed_at = (r.closed_at or r.received_at) if closed else None
        complaints.append(cc.row(
            id=pk, number=number, tracking_code=services.new_tracking_code(), channel=r.channel,
            received_at=r.received_at, created_at=now, updated_at=now, created_by_id=actor_id,
            customer_id=r.customer["id"], subject=r.subject, description=r.description, profile_id=plan.profile.pk,
            about=dumps_json(r.about), department_id=r.department.pk if r.department else None,
            category_id=cat.pk if cat else None, category_confirmed=r.category is not None, priority=priority,
            variant_id=variant.pk, step_id=step.pk, closed_at=closed_at, triage=triage_json, **triage_cols,
            search_keys=fastinsert.search_keys_value(number_keys(number), doc_keys)))
        flags.extend((pk, kind, code, score) for kind, code, score in triage_flags)
        events.append(ce.row(
            complaint_id=pk, kind="complaint.created", actor_id=actor_id, at=now,
            customer_visible=True, note=step.customer_text, before="{}",
            after=dumps_json({
                "number": number, "channel": r.channel, "priority": priority, "step": step.code,
                "received_at": r.received_at.isoformat(), "closed_at": closed_at.isoformat() if closed_at else None,
                "category": cat.code if cat else None, "department": r.department.code if r.department else None,
                "customer_id": r.customer["id"], "imported": True, "source": plan.source,
                "external_id": r.external_id})))
        records.append((plan.source, r.external_id, pk, dumps_json(r.extra), now))
        if r.reply:
            messages.append(dict(complaint_id=pk, direction=Message.Direction.OUTBOUND, channel=r.channel,
                                 author_id=None, body=r.reply[:services.NOTE_MAX],
                                 created_at=r.closed_at or r.received_at))
        if not closed:
            owners.append(dict(complaint_id=pk, step_id=first_step.pk, owner_id=None, started_at=now,
                               completed_at=None))
        if sig is not None:
            index.append((pk, r.customer["id"], r.received_at, sig, bands))
    cc.insert(complaints)
    ce.insert(events)
    fastinsert.insert_rows(ImportedRecord, ["source", "external_id", "complaint_id", "extra", "imported_at"], records)
    fastinsert.insert_rows(ComplaintFlag, ["complaint_id", "kind", "code", "score"], flags)
    cm.insert([cm.row(**m) for m in messages])
    co.insert([co.row(**o) for o in owners])
    for model, n in ((Customer, new_customers), (Complaint, len(complaints)), (Event, len(events)),
                     (ImportedRecord, len(records)), (ComplaintFlag, len(flags)), (Message, len(messages)),
                     (StepOwner, len(owners))):
        written[model._meta.db_table] += n
    if closed:
        from qingting.intake import duplicates

        written[SimilaritySignature._meta.db_table] += len(index)
        written[SimilarityBand._meta.db_table] += sum(len(bands) for *_, bands in index)
        duplicates.insert_index([(pk, cust, when, sig) for pk, cust, when, sig, _ in index],
                                [(pk, bands) for pk, _, _, _, bands in index])
        for hook in hooks.on_imported:
            hook(ids)
    else:
        for c in Complaint.objects.filter(pk__in=ids).select_related("step", "customer", "category", "profile",
                                                                     "variant", "department"):
            for hook in hooks.on_created:
                hook(c, actor)
    return len(rows)


def _existing(source: str, ids: list[str]) -> set[str]:
    found = set()
    step = max(1, len(ids)) if connection.vendor == "postgresql" else 900  # SQLite: its limit on parameters
    for i in range(0, len(ids), step):
        found.update(ImportedRecord.objects.filter(source=source, external_id__in=in_texts(ids[i:i + step]))
                     .values_list("external_id", flat=True))
    return found


# ------------------------------------------------------------------ the run

class RejectWriter:
    def __init__(self, path, headers):
        self.path = Path(path)
        self.fh = open(self.path, "w", encoding="utf-8-sig", newline="")
        self.writer = csv.writer(self.fh)
        self.writer.writerow(["行号", *headers, "错误"])

    def write(self, rownum, values, errors):
        from qingting.intake.export import neutralise

        self.writer.writerow([rownum, *[neutralise(_text(v)) for v in values],
                              "；".join(f"{e.column}: {e.problem}" for e in errors)])

    def close(self):
        self.fh.close()


def _workers(path) -> int:
    import os

    raw = os.environ.get("QINGTING_IMPORT_WORKERS")
    if raw not in (None, ""):
        return max(0, int(raw))
    if Path(path).stat().st_size <= 2 * 1024 * 1024:
        return 0
    # One per core: the analysis is more than half of the CPU a row costs, and with one worker
    # fewer than the cores, one core idled whenever the writes waited for the analysis. On two
    # cores, 100k rows, alternating: two workers 1,319-1,642 rows/s, one 1,188-1,374, three 1,300.
    return max(1, min(4, os.cpu_count() or 1))


class _Analyser:
    """Runs `analyse` inline or in worker processes, at most `window` batches ahead (flat memory)."""

    def __init__(self, workers: int):
        self.pool = None
        from django.db import connections

        if workers > 0 and not connection.in_atomic_block:
            import multiprocessing

            connections.close_all()
            self.pool = multiprocessing.get_context("fork").Pool(workers)
        self.workers = workers
        self.pending = []

    def submit(self, plan, batch):
        items = [(r.subject, r.description, r.channel, plan.profile.code, r.customer.get("name", "")) for r in batch]
        if self.pool is None:
            self.pending.append((batch, analyse(items)))
        else:
            n = self.workers
            size = -(-len(items) // n)
            chunks = [items[i:i + size] for i in range(0, len(items), size)]
            self.pending.append((batch, self.pool.map_async(analyse, chunks)))

    def ready(self, window: int):
        while len(self.pending) > window:
            batch, result = self.pending.pop(0)
            yield batch, (result if isinstance(result, list) else [x for part in result.get() for x in part])

    def close(self):
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()


def run_import(path, mapping: dict, *, actor, dry_run: bool = False, skip_invalid: bool = False,
               rejects_path=None, progress: Callable[[float, Report], None] | None = None,
               batch_size: int = BATCH, workers: int | None = None) -> Report:
    """Import `path` with `mapping`. Raises Invalid for file/mapping problems; row problems go to the report.

    One streaming pass. All-or-nothing (default): everything is written in one transaction;
    at the first invalid row writing stops, the rest of the file is still checked for the
    report, and the transaction is rolled back. `skip_invalid`: one transaction per batch.
    """
    started = time.monotonic()
    report = Report(dry_run=dry_run)
    variant = services.default_variant()
    steps = list(variant.steps.order_by("position"))
    first_step = steps[0]
    final_step = next((s for s in reversed(steps) if s.is_final), steps[-1])
    tick = _ticker(progress, report)
    table = open_table(path)
    plan = Plan(mapping, table.headers)
    rejects = RejectWriter(rejects_path, table.headers) if (rejects_path and skip_invalid) else None
    analyser = _Analyser(0 if dry_run else (_workers(path) if workers is None else workers))
    written: Counter = Counter()  # rows put in each table

    def batches():
        batch: list[Row] = []
        seen: set[str] = set()
        for rownum, values in table.rows():
            report.rows_seen += 1
            row, errors = parse_row(plan, rownum, values)
            if errors:
                report.rejected += 1
                for e in errors:
                    report.add_error(e)
                if rejects is not None:
                    rejects.write(rownum, values, errors)
                continue
            if row.external_id in seen:
                report.duplicates_in_file += 1
                continue
            seen.add(row.external_id)
            batch.append(row)
            if len(batch) >= batch_size:
                yield batch
                batch, seen = [], set()
                tick(table.progress())
        if batch:
            yield batch

    def new_rows(batch: list[Row]) -> list[Row]:
        existing = _existing(plan.source, [r.external_id for r in batch])
        report.existing += len(existing)
        return [r for r in batch if r.external_id not in existing]

    def write(batch, analyses):
        if skip_invalid:
            with transaction.atomic(durable=True):
                bulk_write_settings()
                report.imported += write_rows(plan, batch, analyses, actor=actor, variant=variant,
                                              first_step=first_step, final_step=final_step, written=written)
        else:
            report.imported += write_rows(plan, batch, analyses, actor=actor, variant=variant,
                                          first_step=first_step, final_step=final_step, written=written)

    class _Rollback(Exception):
        pass

    try:
        if dry_run:
            for batch in batches():
                report.imported += len(new_rows(batch))
        else:
            try:
                with (transaction.atomic(durable=True) if not skip_invalid else _nullcontext()):
                    if not skip_invalid:
                        check_keys_per_statement()
                        bulk_write_settings()
                    for batch in batches():
                        if report.error_count and not skip_invalid:
                            continue  # keep checking the rest of the file for the report; write nothing more
                        fresh = new_rows(batch)
                        if fresh:
                            analyser.submit(plan, fresh)
                        for done, analyses in analyser.ready(window=2):
                            write(done, analyses)
                    if not (report.error_count and not skip_invalid):
                        for done, analyses in analyser.ready(window=0):
                            write(done, analyses)
                    if report.error_count and not skip_invalid:
                        raise _Rollback
                    if report.imported:
                        merge_search_pending_list()
                        refresh_planner_statistics(written)
                report.written = True
            except _Rollback:
                report.imported = 0
                report.message = (f"有 {report.rejected} 行无效，未导入任何数据（全部成功才导入）；"
                                  f"可修正后重试，或使用 --skip-invalid 跳过无效行")
        tick(1.0, force=True)
    finally:
        analyser.close()
        table.close()
        if rejects is not None:
            rejects.close()
    report.seconds = time.monotonic() - started
    return report


def check_keys_per_statement() -> None:
    """Check the foreign keys of this transaction at the end of each statement instead of at
    its commit (PostgreSQL; Django makes them deferrable, initially deferred).

    The same checks, only earlier: the import writes parents before their children, so none
    fails here that would not fail at the commit. At the commit of a one-transaction import
    they all ran at once, on one core, after the analysis had finished (≈ 11 per row); per
    statement they run while the workers analyse the next batches, and the server does not
    keep the queue of pending checks in memory until the end."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")


# The search keys of each complaint go into a GIN index (complaint_search_keys_gin), first to its
# pending list, which PostgreSQL merges into the index whenever the list exceeds
# gin_pending_list_limit, gathering the entries in work_mem (4 MB each by default). During a bulk
# import, both larger: fewer and bigger merges. Measured on the search keys of 100k imported
# complaints, inserted in SQL: 10.2-12.1 s by default, 6.3-7.0 s with these (with 16 MB for the
# list, 8.0 s; either one raised alone, no gain: the smaller bounds each merge).
BULK_WORK_MEM = "64MB"
BULK_GIN_PENDING_LIST = "32MB"


def bulk_write_settings() -> None:
    """Settings for the bulk writes of this transaction (PostgreSQL; local: they end with it).
    Each only raises: a server configured with more keeps its own."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT set_config(name, CASE WHEN pg_size_bytes(current_setting(name)) < pg_size_bytes(value) "
                        "THEN value ELSE current_setting(name) END, true) "
                        "FROM (VALUES ('work_mem', %s), ('gin_pending_list_limit', %s)) AS wanted (name, value)",
                        [BULK_WORK_MEM, BULK_GIN_PENDING_LIST])


def merge_search_pending_list() -> None:
    """Merge what the import left in the search index's pending list (up to BULK_GIN_PENDING_LIST;
    every search reads the whole list until it is merged) into the index now, instead of
    leaving it to the next autovacuum (the merge gathers in maintenance_work_mem, 64 MB by
    default). PostgreSQL lets only the index's owner do this; for any other role autovacuum
    still does it."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cur:
        cur.execute("SELECT gin_clean_pending_list(c.oid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                    "JOIN pg_am a ON a.oid = c.relam WHERE i.indrelid = %s::regclass AND a.amname = 'gin' "
                    "AND pg_has_role(c.relowner, 'USAGE')", [Complaint._meta.db_table])


# An import has the planner's statistics of a table refreshed when it added more rows than this share
# of what they counted (autovacuum's default threshold for ANALYZE: a tenth of the table, and 50 rows).
ANALYZE_SHARE = 0.1


def stale_statistics(written: dict[str, int]) -> list[str]:
    """The tables whose planner statistics the import made stale (PostgreSQL): `written` holds the
    rows it added per table; stale means never analysed, or more rows added than ANALYZE_SHARE of
    those counted at the last analysis. (Which of them the role may analyse, analyse_tables decides.)"""
    written = {table: n for table, n in written.items() if n > 0}
    if connection.vendor != "postgresql" or not written:
        return []
    tables = sorted(written)
    with connection.cursor() as cur:
        cur.execute("SELECT c.relname FROM unnest(%s::text[], %s::bigint[]) AS w (name, n) "
                    "JOIN pg_class c ON c.oid = w.name::regclass "
                    "WHERE c.reltuples < 0 OR w.n > c.reltuples * %s "
                    "ORDER BY c.relname", [tables, [written[t] for t in tables], ANALYZE_SHARE])
        return [name for (name,) in cur.fetchall()]


def analyse_tables(key: str) -> list[str]:
    """ANALYZE the tables named in `key` (comma-separated) that exist and that the role owns (PostgreSQL
    lets only the owner analyse); returns those analysed. The background job an import kicks after
    its commit (STATISTICS)."""
    names = [name for name in str(key or "").split(",") if name]
    if connection.vendor != "postgresql" or not names:
        return []
    with connection.cursor() as cur:
        cur.execute("SELECT c.relname FROM pg_class c WHERE c.oid IN (SELECT to_regclass(n) FROM unnest(%s::text[]) n) "
                    "AND c.relkind = 'r' AND pg_has_role(c.relowner, 'USAGE') ORDER BY c.relname", [names])
        tables = [name for (name,) in cur.fetchall()]
        if tables:
            cur.execute("ANALYZE " + ", ".join(connection.ops.quote_name(name) for name in tables))
    return tables


# Without fresh statistics the planner reads the new rows by the old ones until autovacuum analyses
# the table — and never where autovacuum is off, as on the machines here. After 100k-row imports into
# tables never analysed, the dashboard facts of the imported complaints found their customers' other
# complaints by scanning the whole table: 0.8 s per 5,000 complaints with 1M in the table, 11 ms once
# analysed. The analysis runs after the commit, beside the facts: in the import's transaction it made
# each import of 100k rows into 400k-900k complaints take 48.0-51.8 s instead of 45.9-46.8 s.
STATISTICS = background.Coalesced("import-statistics", analyse_tables, task_name="qingting.intake.analyse_tables",
                                  debounce=0)


def refresh_planner_statistics(written: dict[str, int]) -> list[str]:
    """Have the tables whose statistics the import made stale analysed once it commits (in the
    background: a thread, or the Celery task with a broker). Returns their names."""
    stale = stale_statistics(written)
    if stale:
        key = ",".join(stale)
        transaction.on_commit(lambda: STATISTICS.kick(key))
    return stale


class _nullcontext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _ticker(progress, report):
    state = {"last": 0.0}

    def tick(fraction, force=False):
        if progress is None:
            return
        now = time.monotonic()
        if force or now - state["last"] > 0.3:
            state["last"] = now
            progress(fraction, report)
    return tick


def run_job(job: ImportJob, *, actor) -> Report:
    """Run an ImportJob (the page's upload), saving progress on the job row as it goes."""
    def progress(fraction, report):
        ImportJob.objects.filter(pk=job.pk).update(progress=round(fraction, 3), rows_seen=report.rows_seen,
                                                   rows_imported=report.imported)

    ImportJob.objects.filter(pk=job.pk).update(state=ImportJob.State.RUNNING)
    try:
        report = run_import(job.stored_path, job.mapping, actor=actor, dry_run=job.dry_run,
                            skip_invalid=job.skip_invalid, progress=progress)
    except ServiceError as exc:
        ImportJob.objects.filter(pk=job.pk).update(state=ImportJob.State.FAILED, message=exc.zh,
                                                   finished_at=timezone.now())
        raise
    ImportJob.objects.filter(pk=job.pk).update(
        state=ImportJob.State.DONE if (report.written or report.dry_run) else ImportJob.State.FAILED,
        progress=1.0, rows_seen=report.rows_seen, rows_imported=report.imported, rows_existing=report.existing,
        rows_rejected=report.rejected, errors=[e.to_dict() for e in report.errors], message=report.message,
        finished_at=timezone.now())
    if report.written:
        Path(job.stored_path).unlink(missing_ok=True)  # uploaded copies are not kept after a real import
    return report
