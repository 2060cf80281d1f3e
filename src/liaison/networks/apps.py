from django.apps import AppConfig


class NetworksConfig(AppConfig):
    name = "liaison.networks"
    label = "networks"
