from django.urls import path

from liaison.reachability import export_views, views

app_name = "reachability"

urlpatterns = [
    path("networks/<slug:slug>/pingtests/", views.ping_test_list, name="list"),
    # Before the test's pattern, which would otherwise take "new" for a test's id.
    path("networks/<slug:slug>/pingtests/new/", views.ping_test_new, name="new"),
    path("networks/<slug:slug>/pingtests/<str:public_id>/", views.ping_test_detail, name="detail"),
    path(
        "networks/<slug:slug>/pingtests/<str:public_id>/report.<str:fmt>",
        export_views.report_download,
        name="report_download",
    ),
    path(
        "networks/<slug:slug>/pingtests/probes/<str:public_id>/confirm/",
        views.confirm_in_app,
        name="confirm_in_app",
    ),
    path(
        "networks/<slug:slug>/pingtests/probes/<str:public_id>/call/",
        views.log_call,
        name="log_call",
    ),
    # The e-mailed link (services.confirmation_url): public, the token is the capability.
    path("p/<str:token>/", views.confirm_link, name="confirm"),
]
