"""The resolution panels on the complaint page (registered in ResolutionConfig.ready)."""
from django.templatetags.static import static


def resolution_panel(request, c):
    from .views import panel_context

    return {"template": "resolution/_panel.html", "context": panel_context(request, c), "column": "main",
            "order": 20, "css": [static("resolution/resolution.css")]}


def similar_cases_panel(request, c):
    from .queries import similar_for

    similar = similar_for(c, request.user)
    if not similar:
        return None
    return {"template": "resolution/_similar_cases.html", "context": {"similar": similar, "request": request},
            "column": "side", "order": 30, "css": [static("resolution/resolution.css")]}
