from django.apps import apps
from django.contrib import admin
from django.urls import include, path

from qingting.api import api
from qingting.core.views import healthz

admin.site.site_header = "倾听 Qingting 管理"
admin.site.site_title = "倾听 Qingting"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("qingting.accounts.urls")),
]

# Feature apps with pages mount themselves under their own prefix.
for _label, _prefix in (("intake", "portal/"), ("sla", "sla/"), ("analytics", "analytics/"), ("crisis", "crisis/"),
                        ("resolution", "resolution/"), ("coaching", "coaching/"), ("training", "training/")):
    if apps.is_installed(f"qingting.{_label}"):
        try:
            urlpatterns.append(path(_prefix, include(f"qingting.{_label}.urls")))
        except ModuleNotFoundError:
            pass

urlpatterns.append(path("", include("qingting.complaints.urls")))
