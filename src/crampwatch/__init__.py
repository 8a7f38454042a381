"""crampwatch: watch the lower legs overnight, wake the sleeper when a cramp starts.

Not a medical device: crampwatch gives information and a wake-up call, not a diagnosis.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
