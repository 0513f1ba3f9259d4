from ninja import Router

from qingting.core.ratelimit import client_ip

from . import access, services
from .models import Department
from .schemas import DepartmentOut, MeOut, TokenIn, TokenOut

router = Router(tags=["accounts"])


@router.post("/auth/token", response={200: TokenOut}, auth=None)
def create_token(request, payload: TokenIn):
    """Exchange a username and password for a bearer token (rate-limited)."""
    return {"token": services.issue_token(username=payload.username, password=payload.password,
                                          ip=client_ip(request), name=payload.name)}


@router.get("/me", response=MeOut)
def me(request):
    u = request.auth
    role = access.role_of(u)
    return {"username": u.username, "display_name": u.label, "role": role,
            "role_name": dict(u._meta.get_field("role").choices).get(role, role),
            "department": u.department.code if u.department_id else None}


@router.get("/departments", response=list[DepartmentOut])
def departments(request):
    rows = Department.objects.select_related("parent").order_by("path")[:5000]
    return [{"code": d.code, "name": d.name, "kind": d.kind, "parent": d.parent.code if d.parent_id else None,
             "region": d.region} for d in rows]
