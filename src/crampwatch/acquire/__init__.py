"""crampwatch.acquire."""
