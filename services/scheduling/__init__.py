"""scheduling: informational interviews from the first request to the finished conversation."""
