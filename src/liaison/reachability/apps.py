from django.apps import AppConfig


class ReachabilityConfig(AppConfig):
    name = "liaison.reachability"
    label = "reachability"
