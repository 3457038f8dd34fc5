"""What a delta records: the action constants of object and attribute deltas.

``ObjectDelta.ACTION_*`` and ``AttributeDelta.ACTION_*`` are these values;
the code that writes and reads deltas imports them from here, below the models.
"""

from __future__ import annotations

# ObjectDelta.action
CREATE = 1
UPDATE = 2
DELETE = 3

# AttributeDelta.action
SET = 1
UNSET = 2
