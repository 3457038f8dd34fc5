from django.apps import AppConfig


class TestAppConfig(AppConfig):
    name = "tests.testapp"
    label = "testapp"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth.models import User

        import revy
        from tests.testapp.models import Appliance

        revy.register(User, exclude=["password"])
        revy.register(Appliance)
