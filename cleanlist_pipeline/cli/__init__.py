"""``cleanlist-pipeline``, the command line: ``commands`` (arguments), ``runner`` (the flows),
``render`` (what is printed). The console script is ``cleanlist_pipeline.cli:main``."""

from cleanlist_pipeline.cli.commands import main

__all__ = ["main"]
