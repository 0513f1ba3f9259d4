"""The crisis banner on the complaint page: the approved line to take (registered in CrisisConfig.ready)."""


def crisis_banner_panel(request, c):
    from .queries import crisis_banner_for

    banner = crisis_banner_for(c)
    if not banner:
        return None
    return {"template": "crisis/_banner.html", "context": {"crisis_banner": banner}, "column": "top", "order": 1}
