"""The mypyc-compiled build of the PHI scanner's hot modules (setup.py): built wherever a C compiler is
available, finds exactly what the pure-Python modules find, and is set aside when a module's source changed
after the build."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from medtune.privacy import _native
from medtune.privacy.scanner import PhiScanner
from medtune.privacy.synth import generate_corpus

PACKAGE_DIR = Path(_native.__file__).resolve().parent
SRC = PACKAGE_DIR.parent.parent
needs_native = pytest.mark.skipif(not _native.NATIVE, reason="the scanner runs as pure Python here")


def _compiler_available() -> bool:
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    return shutil.which(cc) is not None


def _texts() -> list[str]:
    """Synthetic notes in every style, plus upper- and lower-cased copies (different code paths)."""
    notes = [n["text"] for n in generate_corpus(n=120, seed=11)]
    return notes + [t.upper() for t in notes[:40]] + [t.lower() for t in notes[:40]]


def _scan_all(texts: list[str]) -> list[list[tuple[int, int, str, str, float]]]:
    scanner = PhiScanner({"min_score": 0.0})
    return [[(s.start, s.end, s.type, s.text, s.score) for s in scanner.scan(t)] for t in texts]


def _scan_in_subprocess(texts: list[str], env: dict[str, str], pythonpath: Path) -> dict:
    """Scan `texts` in a fresh interpreter importing medtune from `pythonpath`: spans, build, warnings."""
    code = (
        "import json, sys, warnings\n"
        "warnings.simplefilter('always')\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    from medtune.privacy import _native\n"
        "from medtune.privacy.scanner import PhiScanner\n"
        "scanner = PhiScanner({'min_score': 0.0})\n"
        "texts = json.load(sys.stdin)\n"
        "spans = [[(s.start, s.end, s.type, s.text, s.score) for s in scanner.scan(t)] for t in texts]\n"
        "print(json.dumps({'native': _native.NATIVE, 'file': _native.__file__,\n"
        "                  'warnings': [str(w.message) for w in caught], 'spans': spans}))\n"
    )
    run_env = {**os.environ, **env, "PYTHONPATH": str(pythonpath)}
    done = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        env=run_env,
        check=True,
    )
    return json.loads(done.stdout)


@pytest.mark.skipif(
    os.environ.get("MEDTUNE_PURE_PYTHON", "") not in ("", "0"), reason="MEDTUNE_PURE_PYTHON is set"
)
def test_compiled_build_is_in_use_where_a_compiler_exists() -> None:
    """The install compiles the hot modules when it can; a silent build failure would only show as a slower
    scanner, so it fails here instead (rebuild with `make native`)."""
    if not _compiler_available():
        pytest.skip("no C compiler: the install keeps the pure-Python scanner")
    assert _native.NATIVE, (
        "the PHI scanner's hot modules are not running compiled although a C compiler exists: the mypyc "
        "build failed or is stale (a module changed after it); run `make native` and read its output"
    )


@needs_native
def test_compiled_and_pure_python_find_the_same_spans() -> None:
    texts = _texts()
    compiled = _scan_all(texts)
    pure = _scan_in_subprocess(texts, {"MEDTUNE_PURE_PYTHON": "1"}, SRC)
    assert pure["native"] is False
    assert sum(map(len, compiled)) > 1000  # PHI-dense notes: the comparison covers every finder
    assert [[tuple(s) for s in doc] for doc in pure["spans"]] == compiled


@needs_native
def test_a_source_changed_after_the_build_falls_back_to_pure_python(tmp_path: Path) -> None:
    """An edit in an editable checkout must take effect (not be shadowed by the stale compiled module)."""
    copy = tmp_path / "src"
    shutil.copytree(SRC / "medtune", copy / "medtune", ignore=shutil.ignore_patterns("__pycache__"))
    for shared_library in SRC.glob("medtune_phi__mypyc*"):  # the compiled code, beside the package
        shutil.copy2(shared_library, copy)
    tokens_py = copy / "medtune" / "privacy" / "tokens.py"
    edited = tokens_py.read_text(encoding="utf-8") + "\n# edited after the build\n"
    tokens_py.write_text(edited, encoding="utf-8")
    texts = _texts()[:20]
    result = _scan_in_subprocess(texts, {"MEDTUNE_PURE_PYTHON": ""}, copy)
    assert result["file"].startswith(str(copy))
    assert result["native"] is False
    assert any("tokens.py changed after the mypyc build" in w for w in result["warnings"])
    assert [[tuple(s) for s in doc] for doc in result["spans"]] == _scan_all(texts)
