from collections.abc import Iterator

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db.models import signals as model_signals
from django.dispatch import Signal

from revy import signals as revy_signals

SIGNALS = [
    signal
    for module in (model_signals, revy_signals)
    for signal in vars(module).values()
    if isinstance(signal, Signal)
]


@pytest.fixture(autouse=True)
def _fresh_content_type_cache():
    # Test databases are rebuilt between TransactionTestCase runs; a stale
    # cache would point deltas at content types that no longer exist.
    ContentType.objects.clear_cache()
    yield


@pytest.fixture(autouse=True)
def _receivers_leave_with_the_models_made_here() -> Iterator[None]:
    """Receivers connected during a test (revy's, for the models it makes) are disconnected after it.

    Django keys a receiver by ``id(sender)``: a model class made in a later
    test at the address of one gone would get its receivers too, and each
    of its writes would be recorded twice.
    """
    before = {signal: list(signal.receivers) for signal in SIGNALS}
    yield
    for signal, receivers in before.items():
        with signal.lock:
            signal.receivers = receivers
            signal.sender_receivers_cache.clear()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    # Lets a fixture know whether its test failed (the browser test saves a screenshot then).
    report = yield
    if report.when == "call":
        item.revy_call_report = report
    return report
