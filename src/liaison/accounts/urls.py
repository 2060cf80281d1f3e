from django.urls import path

from liaison.accounts import views

app_name = "accounts"

urlpatterns = [
    path("account/", views.account, name="account"),
    path("account/tokens/<str:public_id>/revoke/", views.token_revoke, name="token_revoke"),
    path("networks/<slug:slug>/people/", views.people, name="people"),
    path(
        "networks/<slug:slug>/people/invitations/<str:public_id>/revoke/",
        views.invitation_revoke,
        name="invitation_revoke",
    ),
    path(
        "networks/<slug:slug>/people/roles/<str:public_id>/revoke/",
        views.role_revoke,
        name="role_revoke",
    ),
    # Before the token pattern, which would otherwise take "accept" for a token.
    path("invitations/accept/", views.invitation_accept, name="invitation_accept"),
    path("invitations/<str:token>/", views.invitation, name="invitation"),
]
