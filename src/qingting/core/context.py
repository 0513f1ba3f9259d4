from django.apps import apps
from django.conf import settings
from django.urls import NoReverseMatch, reverse


def _nav_items(user):
    """Navigation links contributed by installed apps: AppConfig.nav_items = [(url name, label, roles)]."""
    if not getattr(user, "is_authenticated", False):
        return []
    from qingting.accounts.access import role_of

    role = role_of(user)
    items = []
    for config in apps.get_app_configs():
        for url_name, label, roles in getattr(config, "nav_items", ()):
            if roles and role not in roles:
                continue
            try:
                items.append({"url": reverse(url_name), "label": label, "name": url_name})
            except NoReverseMatch:
                continue
    return items


def _banners(request) -> list[str]:
    """Site-wide notices from installed apps: AppConfig.banners(request) -> list of texts."""
    out: list[str] = []
    for config in apps.get_app_configs():
        fn = getattr(config, "banners", None)
        if callable(fn):
            out += [str(b) for b in fn(request) or []]
    return out


def product(request):
    return {"org_name": settings.QINGTING_ORG_NAME, "hotline": settings.QINGTING_HOTLINE,
            "app_nav": _nav_items(getattr(request, "user", None)), "site_banners": _banners(request)}


def event_label(kind: str):
    """The display name of a timeline event kind, from the app that writes it (AppConfig.event_labels)."""
    for config in apps.get_app_configs():
        label = getattr(config, "event_labels", {}).get(kind)
        if label:
            return label
    return None
