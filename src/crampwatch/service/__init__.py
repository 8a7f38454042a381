"""crampwatch.service: the overnight service and the demo."""
