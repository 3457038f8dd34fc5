"""The package imports the way §1 promises: the context API without Django, models lazily."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import revy
from revy.contrib.django import specs, tracking
from tests.testapp import models as testapp_models


def run_without_django_settings(code: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True, check=False
    )


def test_import_revy_needs_no_django_settings():
    result = run_without_django_settings(
        """
        import sys
        import revy
        from django.conf import settings

        assert not settings.configured
        assert "revy.contrib.django.models" not in sys.modules
        print(sorted(name for name in ("Context", "NoActiveContext", "RevyError") if hasattr(revy, name)))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['Context', 'NoActiveContext', 'RevyError']"


def test_context_api_works_without_django_settings():
    result = run_without_django_settings(
        """
        import asyncio
        from revy import Context, NoActiveContext

        assert Context.is_disabled()
        try:
            Context.set_actor("nobody")
        except NoActiveContext:
            pass
        else:
            raise AssertionError("set_actor() outside a context must raise")

        @Context.via_revision_description("nightly import")
        async def job():
            Context.set_actor("importer")
            return Context.get_actor(), Context.get_revision_description(), Context.is_enabled()

        with Context.via_actor("ann"):
            print(asyncio.run(job()), Context.get_actor(), Context.get_revision_description() == "")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "('importer', 'nightly import', True) ann True"


def test_tracked_model_is_importable_from_the_package_root_in_a_models_module():
    # tests/testapp/models.py does `from revy import RevyTrackedModel`.
    assert revy.RevyTrackedModel is tracking.RevyTrackedModel
    assert issubclass(testapp_models.Author, revy.RevyTrackedModel)
    assert specs.spec_for(testapp_models.Author) is not None
