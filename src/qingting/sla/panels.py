"""The deadlines panel on the complaint page (registered in SlaConfig.ready)."""
from qingting.accounts import access


def deadlines_panel(request, c):
    from . import services

    deadlines = services.deadlines_for(c)
    if not deadlines:
        return None
    return {"template": "sla/_deadlines.html", "column": "side", "order": 5,
            "context": {"deadlines": deadlines, "complaint": c, "may_write": access.may_write(request.user),
                        "is_supervisor": access.is_supervising(request.user)}}
