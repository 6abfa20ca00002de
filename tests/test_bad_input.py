"""The bad-input bar: bench/bad_input.py runs 40+ kinds of bad input through all four stages.

Each bad file or model must give one line naming it and the reason, with no traceback, while the
good files of the same batch are still converted. About 40 s on a 2-core machine.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "bad_input.py"


def test_every_kind_of_bad_input_gets_one_clear_line(capsys):
    spec = importlib.util.spec_from_file_location("bad_input", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    status = module.main([])
    out = capsys.readouterr().out
    summary = next(line for line in out.splitlines() if line.startswith("bad_input: "))
    assert int(summary.split()[1]) >= 20, summary
    assert status == 0, "\n".join(line for line in out.splitlines() if line.startswith("PROBLEM"))
