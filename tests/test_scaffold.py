"""`ddbench plugin new KIND NAME`: every kind's package is complete and ruff-clean, installs through its entry
point and passes its own test as written; bad names, unknown kinds, taken names and existing directories are
refused in one line with nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from malformed_util import assert_refused, invoke, snapshot

from ddbench.scaffold import KINDS, new_plugin
from ddbench.scaffold.package import PLACEHOLDER

ROOT = Path(__file__).resolve().parents[1]


def package_files(dest: Path) -> list[str]:
    return sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())


def test_every_kind_writes_a_complete_ruff_clean_package(tmp_path):
    for kind in KINDS.values():
        name = kind.example
        dest = tmp_path / name
        res = invoke("plugin", "new", kind.name, name, "--dir", dest)
        assert res.exit_code == 0, res.output
        module = f"ddbench_{name}"
        assert package_files(dest) == [".gitignore", "README.md", "pyproject.toml", f"src/{module}/__init__.py",
                                       f"tests/test_{name}.py"]
        pyproject = (dest / "pyproject.toml").read_text()
        cls = "".join(part.capitalize() for part in name.split("_")) + kind.name.capitalize()
        assert f'name = "ddbench-{name.replace("_", "-")}"' in pyproject
        assert f'[project.entry-points."{kind.group}"]\n{name} = "{module}:{cls}"\n' in pyproject
        source = (dest / "src" / module / "__init__.py").read_text()
        assert f"class {cls}" in source and f'.register("{name}", version="0.1")' in source
        test = (dest / f"tests/test_{name}.py").read_text()
        if kind.name in ("dataset", "family", "probe", "hypothesis"):
            assert "class Config(BaseModel)" in source and 'extra="forbid"' in source
            assert f'"plugin", "test", "{name}", "--kind", "{kind.plural}"' in test
        else:  # a tiny run with --trainer NAME / --executor NAME
            assert f'"run", str(spec), "--{kind.name}"' in test and f'"{name}"' in test
        for rel in package_files(dest):  # self-contained: no placeholder left, nothing that points outside it
            text = (dest / rel).read_text()
            assert not PLACEHOLDER.search(text), (rel, PLACEHOLDER.search(text))
            for outside in (str(ROOT), str(tmp_path), "/work", "sys.path", "PYTHONPATH", "../"):
                assert outside not in text, (rel, outside)
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_python_api_takes_the_plural_and_defaults_to_ddbench_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    dest = new_plugin("probes", "mean_norm")
    assert dest == Path("ddbench-mean-norm") and (tmp_path / dest / "src/ddbench_mean_norm/__init__.py").is_file()


def _check_package(tmp_path: Path, kind_name: str) -> None:
    """Write the kind's package, install it into a private target (no ddbench reinstalled), and run its
    generated tests there: `ddbench plugin test NAME` for a spec kind, a tiny run with --trainer / --executor."""
    kind = KINDS[kind_name]
    dest = tmp_path / "pkg"
    new_plugin(kind.name, kind.example, dest)
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(dest)], check=True, timeout=300, capture_output=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), str(ROOT)])}
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=dest, env=env,
                         capture_output=True, text=True, timeout=1800)
    report = out.stdout[-6000:] + out.stderr[-3000:]
    assert out.returncode == 0 and "1 passed" in out.stdout, report
    assert "Traceback" not in report, report


def test_dataset_package_installs_and_passes_plugin_test(tmp_path):
    _check_package(tmp_path, "dataset")


def test_family_package_installs_and_passes_plugin_test(tmp_path):
    _check_package(tmp_path, "family")


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["probe", "hypothesis", "trainer", "executor"])
def test_package_installs_and_passes_its_test(tmp_path, kind):
    """A probe's zoo, a hypothesis' zoo past k*, a trainer against `fit`, an executor's run: they train."""
    _check_package(tmp_path, kind)


BAD_NAMES = ["Blobs", "1blobs", "my-probe", "my__probe", "my_probe_", "_probe", "my probe", "x" * 41, "ddbench.x", ""]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_names_are_refused(tmp_path, name):
    before = snapshot(tmp_path)
    assert_refused(invoke("plugin", "new", "probe", name, "--dir", tmp_path / "pkg"), 2, "is not allowed",
                   "lowercase letters")
    assert snapshot(tmp_path) == before


def test_unknown_kind_existing_directory_and_taken_names_are_refused(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    before = snapshot(tmp_path)
    assert_refused(invoke("plugin", "new", "model", "x", "--dir", tmp_path / "new"), 2, "unknown plugin kind 'model'",
                   "allowed: dataset, family, probe, hypothesis, trainer, executor")
    assert_refused(invoke("plugin", "new", "probe", "x", "--dir", tmp_path / "taken"), 2, "already exists",
                   "nothing was written")
    assert_refused(invoke("plugin", "new", "family", "mlp", "--dir", tmp_path / "new"), 2, "family named 'mlp'",
                   "ddbench.families.mlp", "choose another name")
    assert_refused(invoke("plugin", "new", "trainer", "auto", "--dir", tmp_path / "new"), 2, "trainer named 'auto'")
    assert snapshot(tmp_path) == before


def test_a_failed_write_leaves_nothing(tmp_path, monkeypatch):
    real = Path.write_text

    def full_disk(self, text, *args, **kwargs):
        if self.name == "README.md":
            raise OSError(28, "No space left on device", str(self))
        return real(self, text, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full_disk)
    res = invoke("plugin", "new", "dataset", "blobs", "--dir", tmp_path / "pkg")
    assert_refused(res, 4, "README.md")
    assert list(tmp_path.iterdir()) == []
