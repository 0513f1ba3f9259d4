"""The one NinjaAPI at /api/v1/, with one router per app."""
from django.apps import apps

from qingting.core.api import build_api

api = build_api()

from qingting.accounts.api import router as accounts_router  # noqa: E402
from qingting.complaints.api import router as complaints_router  # noqa: E402

api.add_router("/", accounts_router)
api.add_router("/", complaints_router)

# Optional apps add their routers when installed (sla, intake, crisis, …).
for app_config in apps.get_app_configs():
    module_name = f"{app_config.name}.api"
    if app_config.name.startswith("qingting.") and app_config.label not in ("accounts", "complaints", "core"):
        try:
            module = __import__(module_name, fromlist=["router"])
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        if hasattr(module, "router"):
            api.add_router(getattr(module, "PREFIX", "/"), module.router)
