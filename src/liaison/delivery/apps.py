from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "liaison.delivery"
    label = "delivery"
