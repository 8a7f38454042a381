"""crampwatch.consumers."""
