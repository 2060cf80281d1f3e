from django.urls import path

from liaison.delivery import views

app_name = "delivery"

urlpatterns = [
    path("networks/<slug:slug>/deliveries/", views.delivery_list, name="list"),
    path(
        "networks/<slug:slug>/deliveries/<str:public_id>/retry/",
        views.delivery_retry,
        name="retry",
    ),
]
