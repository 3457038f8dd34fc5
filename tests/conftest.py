import pytest
from django.contrib.contenttypes.models import ContentType


@pytest.fixture(autouse=True)
def _fresh_content_type_cache():
    # Test databases are rebuilt between TransactionTestCase runs; a stale
    # cache would point deltas at content types that no longer exist.
    ContentType.objects.clear_cache()
    yield



@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    # Lets a fixture know whether its test failed (the browser test saves a screenshot then).
    report = yield
    if report.when == "call":
        item.revy_call_report = report
    return report
