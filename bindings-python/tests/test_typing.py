"""The type stubs against the built module (mypy's stubtest), a proof that the check can
fail, and the examples type-checked with --strict against the stubs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import ctilink

from conftest import REPO

PACKAGE = Path(ctilink.__file__).parent


def stubtest(env_extra: dict, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, **env_extra)
    return subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "ctilink", "--mypy-config-file", os.devnull],
        capture_output=True, text=True, env=env, cwd=cwd, timeout=300,
    )


def test_stubs_match_the_module(tmp_path):
    assert (PACKAGE / "_native.pyi").is_file() and (PACKAGE / "py.typed").is_file()
    r = stubtest({}, tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr


def test_a_stub_naming_what_the_module_lacks_fails(tmp_path):
    stubs = tmp_path / "stubs" / "ctilink"
    shutil.copytree(PACKAGE, stubs, ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__"))
    with open(stubs / "_native.pyi", "a") as f:
        f.write("\ndef reticulate_splines(n: int) -> None: ...\n")
    r = stubtest({"MYPYPATH": str(tmp_path / "stubs")}, tmp_path)
    assert r.returncode != 0, r.stdout
    assert "reticulate_splines" in r.stdout


def test_examples_type_check_strictly(tmp_path):
    examples = sorted(str(p) for p in (REPO / "examples" / "python").glob("*.py"))
    assert examples
    r = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "cache"), *examples],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
