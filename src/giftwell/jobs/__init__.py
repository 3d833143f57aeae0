"""Background work: periodic sweeps now; the job queue (outbox) later."""
