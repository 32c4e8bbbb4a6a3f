"""``python -m cleanlist_pipeline.cli``: the ``cleanlist-pipeline`` command (e.g. for ``-X importtime``)."""

from cleanlist_pipeline.cli.commands import main

main()
