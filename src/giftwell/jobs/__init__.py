"""Background work: the job worker (`worker.py`), the handler registry (`handlers/`) and the
periodic tasks (`schedules.py`, the sweeper among them). The queue itself (enqueue, claim,
leases) is in `giftwell.services.jobs` and `giftwell.services.job_queue`."""
