from django.urls import path

from liaison.directory import downloads, edition_views, reach_views, review_views, views

app_name = "directory"

_BASE = "networks/<slug:slug>/directory/"

urlpatterns = [
    path(_BASE, views.contact_point_list, name="list"),
    path(_BASE + "new/", views.contact_point_create, name="create"),
    path(_BASE + "reach/", reach_views.reach_page, name="reach"),
    path(_BASE + "editions/", edition_views.edition_list, name="editions"),
    path(_BASE + "editions/<int:number>/", edition_views.edition_detail, name="edition"),
    path(
        _BASE + "editions/<int:a>/diff/<int:b>/",
        edition_views.edition_diff,
        name="edition_diff",
    ),
    path(
        _BASE + "editions/<int:number>/download/<str:fmt>/",
        downloads.download_edition,
        name="download",
    ),
    path(_BASE + "changes/", review_views.changes, name="changes"),
    path(_BASE + "publish/", review_views.publish, name="publish"),
    path(
        _BASE + "editions/<int:number>/acknowledge/",
        review_views.acknowledge,
        name="acknowledge",
    ),
    # Fixed paths above this line: "<str:public_id>/" matches any single segment.
    path(_BASE + "<str:public_id>/", views.contact_point_detail, name="detail"),
    path(_BASE + "<str:public_id>/edit/", views.contact_point_edit, name="edit"),
    path(_BASE + "<str:public_id>/delete/", views.contact_point_delete, name="delete"),
    path(_BASE + "<str:public_id>/confirm/", views.contact_point_confirm, name="confirm"),
]
