"""The garbage-collector policy of a server process, applied once it has started.

Why: CPython's cyclic collector runs after every 700 net allocations and
regularly walks every live container object. A server holding 10,000
WebSocket connections keeps millions of them (coroutine frames, dicts, futures
per connection), and a fan-out, a vote storm or a reconnect storm allocates in
bursts. Profiled on 2 cores (``docs/benchmarks.md``), the collector took 30-40%
of the server's CPU in a 5,000-viewer fan-out and made a 5,000-viewer
reconnect storm 1.5x slower.

What: :func:`gc.freeze` moves everything that exists after start-up (imported
modules, the app, the word lists) into the permanent generation, which
collections never walk again; and a larger first-generation threshold makes
young collections rarer. Reference counting still frees almost everything the
moment it is unused; only reference *cycles* wait a little longer for the
collector, and the thresholds bound how many.
"""

from __future__ import annotations

import gc

THRESHOLDS = (50_000, 20, 100)
"""Allocations before a young collection (default 700), and collections of each
generation before the next one is collected too (defaults 10, 10)."""


def apply() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
