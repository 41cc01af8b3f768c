"""Background sync: schedule policy, task leases and the worker (``inlet worker``)."""
