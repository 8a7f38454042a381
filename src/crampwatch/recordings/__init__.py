"""crampwatch.recordings."""
