"""Pages: the public customer portal (no login, mobile first) and the staff intake pages
(bulk import, customer profile and merge, export). Views parse, call a service, render."""
from __future__ import annotations

import threading
import uuid
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods, require_POST

from qingting.accounts import access
from qingting.complaints.models import Complaint, IndustryProfile
from qingting.core.errors import ServiceError
from qingting.core.ratelimit import client_ip

from . import conf, export, services
from .importer import mapping as mapping_mod
from .models import ImportJob, ImportMapping

SESSION_KEY = "portal_verified"


def _form_error(request, exc: ServiceError):
    return exc.zh


def _profiles():
    return list(IndustryProfile.objects.order_by("position", "code"))


def _request_too_big(request) -> bool:
    limit = conf.get("QINGTING_PORTAL_MAX_FILES") * conf.get("QINGTING_PORTAL_MAX_FILE_BYTES") + 256 * 1024
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) > limit
    except ValueError:
        return True


# ------------------------------------------------------------------ public portal

@csrf_protect
@require_http_methods(["GET", "POST"])
def submit(request):
    profiles = _profiles()
    code = request.POST.get("profile") or request.GET.get("profile") or conf.get("QINGTING_PORTAL_PROFILE") or "general"
    profile = next((p for p in profiles if p.code == code), None) or (profiles[0] if profiles else None)
    ctx = {"profiles": profiles, "profile": profile, "values": {}, "error": None, "field_errors": {},
           "max_files": conf.get("QINGTING_PORTAL_MAX_FILES"),
           "max_mb": conf.get("QINGTING_PORTAL_MAX_FILE_BYTES") // 1048576}
    if request.method == "POST":
        if _request_too_big(request):
            ctx["error"] = "提交的内容过大，请减少附件或压缩照片后重试"
            return render(request, "intake/portal_submit.html", ctx, status=413)
        ctx["values"] = request.POST
        if request.POST.get("website"):  # honeypot: people never see this field
            ctx["error"] = "提交失败，请稍后再试"
            return render(request, "intake/portal_submit.html", ctx, status=400)
        about = {}
        for f in (profile.fields if profile else []):
            value = request.POST.get(f"about_{f['key']}", "").strip()
            if value:
                about[f["key"]] = value
        try:
            complaint = services.submit_complaint(
                name=request.POST.get("name", ""), mobile=request.POST.get("mobile", ""),
                email=request.POST.get("email", ""), subject=request.POST.get("subject", ""),
                description=request.POST.get("description", ""), profile=profile.code if profile else None,
                about=about, files=request.FILES.getlist("attachments"), ip=client_ip(request))
        except ServiceError as exc:
            ctx["error"] = exc.zh
            ctx["field_errors"] = exc.fields
            return render(request, "intake/portal_submit.html", ctx, status=exc.status)
        request.session["portal_done"] = complaint.tracking_code
        _remember(request, complaint)
        return redirect("intake:done")
    return render(request, "intake/portal_submit.html", ctx)


def _remember(request, complaint):
    verified = request.session.get(SESSION_KEY) or []
    if complaint.tracking_code not in verified:
        verified = (verified + [complaint.tracking_code])[-5:]
    request.session[SESSION_KEY] = verified


def _verified(request, code: str):
    code = services.normalise_code(code)
    if code not in (request.session.get(SESSION_KEY) or []):
        return None
    return Complaint.objects.select_related("customer", "step").filter(tracking_code=code).first()


def done(request):
    code = request.session.get("portal_done")
    complaint = _verified(request, code) if code else None
    if complaint is None:
        return redirect("intake:status")
    return render(request, "intake/portal_done.html", {
        "complaint": complaint, "expected": services.expected_reply_text(complaint),
        "hotline": settings.QINGTING_HOTLINE})


@csrf_protect
@require_http_methods(["GET", "POST"])
def status(request):
    ctx = {"error": None, "code": request.GET.get("code", "")}
    if request.method == "POST":
        ctx["code"] = request.POST.get("code", "")
        try:
            complaint = services.find_for_customer(request.POST.get("code", ""), request.POST.get("check", ""),
                                                   ip=client_ip(request))
        except ServiceError as exc:
            ctx["error"] = exc.zh
            return render(request, "intake/portal_status_lookup.html", ctx, status=exc.status)
        _remember(request, complaint)
        return redirect("intake:track", code=complaint.tracking_code)
    return render(request, "intake/portal_status_lookup.html", ctx)


@csrf_protect
@require_http_methods(["GET", "POST"])
def track(request, code):
    complaint = _verified(request, code)
    if complaint is None:
        return redirect(reverse("intake:status") + f"?code={services.normalise_code(code)}")
    error = None
    if request.method == "POST":
        if _request_too_big(request):
            error = "提交的内容过大"
        else:
            try:
                if request.POST.get("action") == "survey":
                    services.submit_survey(complaint, stars=request.POST.get("stars"),
                                           reasons=request.POST.getlist("reasons"),
                                           comment=request.POST.get("comment", ""))
                    messages.success(request, "感谢您的评价！")
                else:
                    services.customer_message(complaint, body=request.POST.get("body", ""),
                                              files=request.FILES.getlist("attachments"), ip=client_ip(request))
                    messages.success(request, "已收到您的留言")
                return redirect("intake:track", code=complaint.tracking_code)
            except ServiceError as exc:
                error = exc.zh
        complaint.refresh_from_db()
    ctx = services.customer_view(complaint) | {"error": error, "hotline": settings.QINGTING_HOTLINE,
                                                "reasons": services.SURVEY_REASONS, "stars_range": range(1, 6)}
    return render(request, "intake/portal_status.html", ctx, status=400 if error else 200)


# ------------------------------------------------------------------ staff: import

def _staff(user) -> bool:
    return access.may_write(user)


@login_required
@require_http_methods(["GET", "POST"])
def import_page(request):
    if not _staff(request.user):
        raise Http404
    presets = mapping_mod.list_presets()
    saved = list(ImportMapping.objects.order_by("name"))
    ctx = {"presets": presets, "saved": saved, "targets": mapping_mod.TARGET_LABELS, "error": None,
           "jobs": ImportJob.objects.filter(created_by=request.user).order_by("-id")[:10]}
    if request.method == "POST" and request.FILES.get("file"):
        upload = request.FILES["file"]
        if upload.size > conf.get("QINGTING_IMPORT_UPLOAD_MAX_BYTES"):
            ctx["error"] = (f"文件过大（{upload.size // 1048576} MB），网页上传上限 "
                            f"{conf.get('QINGTING_IMPORT_UPLOAD_MAX_BYTES') // 1048576} MB；请使用命令 qingting import")
            return render(request, "intake/import.html", ctx, status=413)
        folder = Path(settings.DATA_DIR) / "imports"
        folder.mkdir(parents=True, exist_ok=True)
        stored = folder / f"{uuid.uuid4().hex}{Path(upload.name).suffix.lower()[:6]}"
        with open(stored, "wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        from .importer.readers import open_table

        try:
            table = open_table(stored)
            table.close()
        except ServiceError as exc:
            stored.unlink(missing_ok=True)
            ctx["error"] = exc.zh
            return render(request, "intake/import.html", ctx, status=exc.status)
        request.session["import_file"] = {"path": str(stored), "name": upload.name[:200]}
        ctx.update({"headers": table.headers, "suggested": mapping_mod.suggest(table.headers),
                    "filename": upload.name, "encoding": table.encoding})
        return render(request, "intake/import.html", ctx)
    if request.method == "POST":
        info = request.session.get("import_file")
        if not info:
            ctx["error"] = "请先上传文件"
            return render(request, "intake/import.html", ctx, status=400)
        try:
            if request.POST.get("mapping_name"):
                mapping = dict(mapping_mod.get_mapping(request.POST["mapping_name"]))
            else:
                columns = {k[4:]: v for k, v in request.POST.items() if k.startswith("col:") and v}
                mapping = {"name": "page", "columns": columns, "values": {},
                           "source": request.POST.get("source", "").strip(),
                           "profile": request.POST.get("profile") or "general",
                           "closed": request.POST.get("closed") == "1"}
                if request.POST.get("save_as"):
                    problems = mapping_mod.check_mapping(mapping)
                    if problems:
                        raise ServiceError("；".join(problems), "; ".join(problems), status=422)
                    ImportMapping.objects.update_or_create(name=request.POST["save_as"][:64], defaults={
                        "source": mapping["source"], "profile": mapping["profile"], "closed": mapping["closed"],
                        "columns": columns, "created_by": request.user})
        except ServiceError as exc:
            ctx["error"] = exc.zh
            return render(request, "intake/import.html", ctx, status=exc.status)
        job = ImportJob.objects.create(created_by=request.user, filename=info["name"], stored_path=info["path"],
                                       mapping=mapping, dry_run=request.POST.get("dry_run") == "1",
                                       skip_invalid=request.POST.get("skip_invalid") == "1")
        _start_job(job, request.user)
        return redirect("intake:import_job", job_id=job.pk)
    return render(request, "intake/import.html", ctx)


def _start_job(job, user):
    from .importer.engine import run_job

    def work():
        try:
            run_job(job, actor=user)
        except Exception:  # recorded on the job row
            pass
        finally:
            connection.close()

    if connection.in_atomic_block or getattr(settings, "QINGTING_IMPORT_INLINE", False):
        try:
            run_job(job, actor=user)
        except ServiceError:
            pass
        return
    threading.Thread(target=work, daemon=True, name=f"import-{job.pk}").start()


@login_required
def import_job(request, job_id: int):
    job = ImportJob.objects.filter(pk=job_id, created_by=request.user).first()
    if job is None:
        raise Http404
    data = {"state": job.state, "progress": job.progress, "rows_seen": job.rows_seen,
            "rows_imported": job.rows_imported, "rows_existing": job.rows_existing,
            "rows_rejected": job.rows_rejected, "message": job.message, "dry_run": job.dry_run}
    if request.GET.get("format") == "json":
        return JsonResponse(data)
    return render(request, "intake/import_job.html", {"job": job, "data": data, "errors": (job.errors or [])[:500]})


# ------------------------------------------------------------------ staff: customers, export

@login_required
def customer_page(request, customer_id: int):
    try:
        ctx = services.customer_profile(request.user, customer_id)
    except ServiceError:
        raise Http404
    ctx["may_merge"] = access.is_supervising(request.user)
    return render(request, "intake/customer.html", ctx)


@login_required
@require_POST
def customer_merge(request, customer_id: int):
    try:
        services.merge_customers(customer_id, int(request.POST.get("merge_id") or 0), actor=request.user)
        messages.success(request, "客户已合并")
    except (ServiceError, ValueError) as exc:
        messages.error(request, getattr(exc, "zh", "客户编号无效"))
    return redirect("intake:customer", customer_id=customer_id)


@login_required
def export_view(request):
    fmt = request.GET.get("format", "csv")
    params = {k: v for k, v in request.GET.items() if k != "format"}
    try:
        return export.export_response(request.user, params, fmt)
    except ServiceError as exc:
        return HttpResponse(exc.zh, status=exc.status, content_type="text/plain; charset=utf-8")
