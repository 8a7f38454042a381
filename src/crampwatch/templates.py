"""The Jinja2 environment of crampwatch's templates (the model card, the HTML report)."""

from __future__ import annotations

import jinja2

__all__ = ["template_env"]


def template_env(package: str, *, autoescape: bool) -> jinja2.Environment:
    """An environment loading ``package``'s ``templates/`` folder. ``autoescape``: True for
    HTML (every text that comes from data is escaped), False for Markdown."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader(package, "templates"),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,  # a misspelt name fails instead of showing nothing
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
