"""Repeat and possibly-related complaints on the complaint page (registered in IntakeConfig.ready)."""


def links_panel(request, c):
    from .duplicates import links_for

    links = links_for(c, request.user)
    if not links:
        return None
    return {"template": "intake/_links.html", "context": {"links": links}, "column": "main", "order": 10}
