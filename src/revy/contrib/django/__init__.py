"""The Django app of revy (``INSTALLED_APPS += ["revy.contrib.django"]``, label ``revy``)."""
