"""The reply editor and the care card on the complaint page (registered in CoachingConfig.ready)."""
from django.templatetags.static import static

from qingting.accounts import access


def reply_editor_panel(request, c):
    if not access.may_write(request.user):
        return None
    from .views import editor_context

    ctx = editor_context(request, c)
    return {"template": "coaching/_reply_editor.html", "context": ctx, "column": "side", "order": 20,
            "css": [static("coaching/coaching.css")]}


def care_break_panel(request, c):
    from .views import editor_context

    ctx = editor_context(request, c)
    if not ctx.get("care"):
        return None
    return {"template": "coaching/_care_break.html", "context": ctx, "column": "top", "order": 10,
            "css": [static("coaching/coaching.css")]}
