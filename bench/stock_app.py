"""Raw Celery with its defaults on the profile's own URLs: the baseline Organism's configuration is measured by.

Nothing of Organism's app configuration applies here (no late acks, prefetch 4, no STARTED state, no publisher
confirms). On the embedded profile's URLs that means kombu's SQL transport with its default 1 s polling and the
database result backend, which joins chords with ``chord_unlock``. ``celery -A bench.stock_app worker`` started
with the benchmark's ``ORGANISM_*`` environment finds the same URLs.
"""

from __future__ import annotations

from celery import Celery

from organism.settings import Settings, get_settings

# The stock app's default queue, served by its own worker (the organ queues on RabbitMQ carry arguments a
# stock declaration would conflict with).
STOCK_QUEUE = "bench.stock"


def create(settings: Settings, set_as_current: bool = False) -> Celery:
    """The stock app, with the benchmark's task modules (their raw tasks are the ones it runs)."""
    modules = ["bench.noop_tasks", *(m for m in settings.task_modules if m != "bench.noop_tasks")]
    stock = Celery("bench-stock", set_as_current=set_as_current, broker=settings.broker,
                   backend=settings.results, include=modules)
    stock.conf.task_default_queue = STOCK_QUEUE
    return stock


app = create(get_settings())
