"""Pruning a model for good: masks put into its parameters, dead units removed, sparse storage."""
