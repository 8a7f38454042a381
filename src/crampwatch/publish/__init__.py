"""crampwatch.publish."""
