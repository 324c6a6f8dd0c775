"""Training: the loop, optimisers, schedules, penalties and checkpoints."""
