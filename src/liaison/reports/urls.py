from django.urls import path

from liaison.reports import views

app_name = "reports"

urlpatterns = [
    path("networks/<slug:slug>/stats/", views.stats, name="stats"),
]
