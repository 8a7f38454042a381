"""crampwatch.simulate."""
