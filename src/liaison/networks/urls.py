from django.urls import path

from liaison.networks import views

app_name = "networks"

urlpatterns = [
    path("networks/<slug:slug>/", views.detail, name="detail"),
    path("networks/<slug:slug>/settings/", views.settings, name="settings"),
    path("networks/<slug:slug>/members/", views.members, name="members"),
    path("networks/<slug:slug>/members/new/", views.member_create, name="member_create"),
    path("networks/<slug:slug>/members/<str:public_id>/", views.member, name="member"),
    path(
        "networks/<slug:slug>/members/<str:public_id>/edit/",
        views.member_edit,
        name="member_edit",
    ),
]
