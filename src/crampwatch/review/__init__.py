"""crampwatch.review."""
