from django.urls import path

from liaison.audit import views

app_name = "audit"

urlpatterns = [
    path("networks/<slug:slug>/audit/", views.event_list, name="list"),
    path("networks/<slug:slug>/audit/verify/", views.verify, name="verify"),
]
