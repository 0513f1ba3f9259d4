from django.conf import settings


def product(request):
    return {"org_name": settings.QINGTING_ORG_NAME, "hotline": settings.QINGTING_HOTLINE}
