"""The morning review: a night's events summarised in the terminal, as a self-contained
HTML report with plots, and exported as CSV, JSON or EDF+ annotations.

- :mod:`~crampwatch.review.summary` — pure: stored events → :class:`NightSummary`;
- :mod:`~crampwatch.review.report` — gathers a night from the event store and recording;
- :mod:`~crampwatch.review.plots` / :mod:`~crampwatch.review.html` /
  :mod:`~crampwatch.review.terminal` — rendering;
- :mod:`~crampwatch.review.export` — CSV, JSON, EDF+ annotations;
- :mod:`~crampwatch.review.command` — the ``crampwatch review`` verb.

Submodules are imported on use so that ``crampwatch review --help`` stays quick.
"""

__all__: list[str] = []
