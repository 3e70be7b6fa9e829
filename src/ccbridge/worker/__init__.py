"""ccbridge's background work: named jobs on huey, embedded or scaled out on Redis.

``JobQueue`` is the registration API the other parts use (``register``,
``register_periodic``, ``enqueue``); ``EmbeddedWorker`` runs the consumer inside
``ccbridge serve``; ``run_worker`` is ``ccbridge worker``.
"""

from ccbridge.worker.queue import JobError, JobQueue, PeriodicJob, create_huey
from ccbridge.worker.runtime import EmbeddedWorker, run_worker

__all__ = ["EmbeddedWorker", "JobError", "JobQueue", "PeriodicJob", "create_huey", "run_worker"]
