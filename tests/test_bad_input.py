"""The bad-input bar: tests/bad_input.py runs 40+ kinds of bad input through all four stages.

Each bad file or model must give one line naming it and the reason, with no traceback, while the
good files of the same batch are still converted. About 40 s on a 2-core machine.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "bad_input.py"


def test_every_kind_of_bad_input_gets_one_clear_line(capsys):
    spec = importlib.util.spec_from_file_location("bad_input", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    status = module.main([])
    out = capsys.readouterr().out
    summary = next(line for line in out.splitlines() if line.startswith("bad_input: "))
    assert int(summary.split()[1]) >= 20, summary
    assert status == 0, "\n".join(line for line in out.splitlines() if line.startswith("PROBLEM"))


def test_train_skips_unusable_images_one_line_each_and_keeps_the_good(tmp_path, capsys):
    import numpy as np
    from PIL import Image

    from model.data import list_images

    good = [tmp_path / f"good_{i}.png" for i in range(3)]
    for path in good:
        Image.fromarray(np.zeros((106, 300), np.uint8), mode="L").save(path)
    Image.new("RGB", (300, 106)).save(tmp_path / "rgb.png")
    (tmp_path / "text.png").write_text("not an image")
    (tmp_path / "sub").mkdir()
    Image.fromarray(np.zeros((106, 299), np.uint8), mode="L").save(tmp_path / "sub" / "narrow.PNG")
    assert list_images(tmp_path) == sorted(good)
    err = capsys.readouterr().err.strip().splitlines()
    assert err[:3] == [f"train: {tmp_path / 'rgb.png'}: mode RGB, expected 8-bit grayscale (L); skipped",
                       f"train: {tmp_path / 'sub' / 'narrow.PNG'}: size 299x106, expected 300x106; skipped",
                       f"train: {tmp_path / 'text.png'}: not a PNG image (unrecognised or corrupt data); skipped"]
    assert err[3] == "train: 3 of 6 images unusable and skipped"
