"""Running reports: a batch (batch: the entry; plan: its jobs; execute: one
report; folder: the output folder's lock, manifest and clean-up; index: its
index page), where it may write (outputs), the workers (executors; the warm
fork server: forkserver, forkengine, capture, warmup), the batch's data cache
(cache) and schedules."""
