"""Fixtures: throwaway `dg` projects on disk, holding `defs.yaml` instances of the component."""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SAMPLE_DROPS = REPO / "sample_data" / "drops"
BIN = Path(sys.executable).parent


@dataclass
class DgProject:
    """A `dg` project folder with its own importable package (``<package>.defs``)."""

    root: Path
    package: str

    @property
    def defs(self) -> Path:
        return self.root / self.package / "defs"

    def add_instance(self, folder: str, attributes: dict[str, Any]) -> Path:
        path = self.defs / folder
        path.mkdir(parents=True, exist_ok=True)
        doc = {"type": "cleanlist_pipeline.CleanlistComponent", "attributes": attributes}
        (path / "defs.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
        return path


def make_dg_project(root: Path) -> DgProject:
    """A minimal `dg` project, as `dg scaffold project` lays one out (no venv of its own)."""
    package = "leads_" + uuid.uuid4().hex[:8]
    (root / package / "defs").mkdir(parents=True)
    (root / package / "__init__.py").write_text("")
    (root / package / "defs" / "__init__.py").write_text("")
    (root / package / "definitions.py").write_text(
        textwrap.dedent(
            """\
            from pathlib import Path

            import dagster as dg


            @dg.definitions
            def defs() -> dg.Definitions:
                return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
            """
        )
    )
    (root / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""\
            [project]
            name = "{package}"
            version = "0.0.1"
            requires-python = ">=3.11"

            [tool.dg]
            directory_type = "project"

            [tool.dg.project]
            root_module = "{package}"
            registry_modules = ["cleanlist_pipeline"]
            """
        )
    )
    return DgProject(root, package)


@pytest.fixture
def dg_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DgProject]:
    project = make_dg_project(tmp_path / "project")
    monkeypatch.syspath_prepend(str(project.root))
    yield project
    for name in [m for m in sys.modules if m.startswith(project.package)]:
        del sys.modules[name]


def dg_env(project: DgProject, **extra: str) -> dict[str, str]:
    """The environment `dg` runs with: this venv active, the project importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEANLIST_")}
    env.update(
        VIRTUAL_ENV=str(BIN.parent),
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPATH=f"{project.root}{os.pathsep}{env.get('PYTHONPATH', '')}".rstrip(os.pathsep),
        NO_COLOR="1",
        **extra,
    )
    return env


def copy_drops(dest: Path, names: list[str]) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(SAMPLE_DROPS / name, dest / name)
    return dest
