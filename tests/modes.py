"""Running a test both inside a transaction and in autocommit."""

import pytest

in_either_mode = pytest.mark.parametrize(
    "mode",
    [
        pytest.param("in a transaction", marks=pytest.mark.django_db),
        # Every write commits on its own; on PostgreSQL a save's deltas travel in the save's own statement.
        pytest.param("in autocommit", marks=pytest.mark.django_db(transaction=True)),
    ],
)
"""Run the test inside a transaction, as Django's TestCase does, and again in autocommit (takes ``mode``)."""
