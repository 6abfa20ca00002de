#!/bin/sh
# Train on a GPU machine that has Python 3.12 and JAX but no TensorFlow, no keras and no network
# (a rented or lent box), from the shipped generator, then bring the checkpoints back to select here.
#
#   sh bench/gpu_train.sh pack            here: wheels the GPU machine lacks and the train-split PNGs -> .gpu/ (~25 MB)
#   sh bench/gpu_train.sh run MINUTES     there, in a copy of this tree with .gpu/: train MINUTES with the JAX
#                                         backend; writes runs/gpu/ and copies the results to $OUT (default gpu-out/)
#   sh bench/gpu_train.sh fresh MINUTES   the same from new weights, for a generator built otherwise
#                                         (sh bench/gpu_train.sh fresh 8 'generator_channels=[256,128,64,32]')
#
# Settings beyond the shipped run's config.json go after MINUTES, as `train --set` takes them
# (sh bench/gpu_train.sh run 8 batch_size=64; `run 8 'generator_channels=[256,128,64,32]'` starts from the
# shipped generator widened, as `train --init-from` widens one). Checkpoints are not scored during the run (that needs
# music21 and the validation PNGs); choose among them here with `evaluate --real data/images/validation`.
# Checked with the JAX CPU backend under Python 3.12, jax 0.11.2 and numpy 2.5.2 (the lent GPU machines'
# versions), with none of the carried packages installed; not yet on a GPU.
set -eu
KIT=.gpu

case "${1:-}" in
pack)
    test -x .venv/bin/python || { echo "gpu_train: no .venv here; run make setup first" >&2; exit 1; }
    mkdir -p "$KIT/whl"
    # music21 stays behind: train without checkpoint scoring never imports it.
    .venv/bin/python -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d "$KIT/whl" \
        "$(grep '^keras==' requirements.txt | cut -d' ' -f1)" \
        "$(grep '^pretty_midi==' requirements.txt | cut -d' ' -f1)" namex optree mido importlib_resources \
        six typing_extensions
    test -d data/images/train || { echo "gpu_train: no data/images/train; run pipeline.py midi2img first" >&2; exit 1; }
    # Stored uncompressed inside each PNG, the rolls compress across files: 17 MB instead of 26.
    rm -rf "$KIT/stage" && mkdir -p "$KIT/stage/train"
    .venv/bin/python -c "import sys, pathlib, PIL.Image
for p in sorted(pathlib.Path('data/images/train').glob('*.png')):
    PIL.Image.open(p).save(pathlib.Path(sys.argv[1]) / p.name, compress_level=0)" "$KIT/stage/train"
    tar -C "$KIT/stage" -cf - train | xz -9 -T0 > "$KIT/train.tar.xz.tmp"
    mv "$KIT/train.tar.xz.tmp" "$KIT/train.tar.xz" && rm -rf "$KIT/stage"
    du -sh "$KIT"
    ;;
run|fresh)
    MINUTES=${2:?"gpu_train: $1 MINUTES [NAME=VALUE ...]"}
    # From the shipped generator D starts afresh; its style classifier then learns from real rolls only, which
    # keeps the texture words (bench/quality/README.md, wreal). Settings given after MINUTES may change it.
    START="--init-from pretrained/generator.keras --set style_classifier_fakes=false"
    if [ "$1" = fresh ]; then START=""; fi
    shift 2
    PY=${PYTHON:-python3}
    if ! $PY -c "import keras" 2>/dev/null; then
        $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site "$KIT"/whl/*.whl
        export PYTHONPATH=/tmp/site
    fi
    mkdir -p /tmp/images && tar -C /tmp/images -xJf "$KIT/train.tar.xz"
    mkdir -p runs/gpu && cp pretrained/config.json runs/gpu/
    SETTINGS=""
    for setting in "$@"; do SETTINGS="$SETTINGS --set $setting"; done
    # The last 8 checkpoints, 1,000 steps apart, are kept: their generators come back in one tar of about 15 MB.
    set -f  # a list setting ([256,128,64,32]) is not a file pattern
    # shellcheck disable=SC2086
    KERAS_BACKEND=jax PYTHONUNBUFFERED=1 $PY pipeline.py train --images /tmp/images/train --run-dir runs/gpu \
        --resume $START --textures --validation-rolls 0 \
        --set minutes="$MINUTES" --set max_steps=10000000 --set keep=8 --set checkpoint_every=1000 $SETTINGS
    set +f
    OUT=${OUT:-gpu-out}
    mkdir -p "$OUT"
    cp runs/gpu/log.csv runs/gpu/config.json "$OUT"/
    tar -C runs/gpu -cf "$OUT/generators.tar" $(cd runs/gpu && ls -d checkpoints/*/generator.keras)
    ls -la "$OUT"
    ;;
*)
    awk 'NR > 1 && !/^#/ { exit } NR > 1' "$0"  # the header above
    exit 2
    ;;
esac
