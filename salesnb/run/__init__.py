"""Running reports: batches (batch), where they may write (outputs), the
workers (executors, forkserver), the batch's data cache and schedules."""
