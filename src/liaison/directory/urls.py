from django.urls import path

from liaison.directory import views

app_name = "directory"

_BASE = "networks/<slug:slug>/directory/"

urlpatterns = [
    path(_BASE, views.contact_point_list, name="list"),
    path(_BASE + "new/", views.contact_point_create, name="create"),
    path(_BASE + "<str:public_id>/", views.contact_point_detail, name="detail"),
    path(_BASE + "<str:public_id>/edit/", views.contact_point_edit, name="edit"),
    path(_BASE + "<str:public_id>/delete/", views.contact_point_delete, name="delete"),
    path(_BASE + "<str:public_id>/confirm/", views.contact_point_confirm, name="confirm"),
]
