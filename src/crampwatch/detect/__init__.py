"""crampwatch.detect."""
