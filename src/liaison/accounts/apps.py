from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "liaison.accounts"
    label = "accounts"

    def ready(self) -> None:
        from liaison.accounts import signals  # noqa: F401 - connects the audit receivers
