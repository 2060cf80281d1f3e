from django.conf import settings


def liaison(request):
    return {"LIAISON_BASE_URL": settings.BASE_URL, "access": getattr(request, "access", None)}
