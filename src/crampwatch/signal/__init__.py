"""crampwatch.signal."""
