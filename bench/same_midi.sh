#!/usr/bin/env bash
# Same command and seed, same MIDI bytes: runs the demo, the game-loop command, a three-piece long
# sample and an img2midi of a MAESTRO test image at a base revision and in this tree, and compares
# every MIDI file they write. For changes that must not change what any command produces.
#
#     bash bench/same_midi.sh BASE_REV        # e.g. HEAD~3; needs data/images/test (python pipeline.py midi2img)
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:?usage: bench/same_midi.sh BASE_REV}
python=${PYTHON:-$PWD/.venv/bin/python}
image=$(find data/images/test -name '*.png' | sort | sed -n 1p)  # sed reads on: head would SIGPIPE sort
[ -n "$image" ] || { echo "same_midi: no image in data/images/test; run python pipeline.py midi2img first" >&2; exit 2; }
image=$PWD/$image
work=$(mktemp -d)
trap 'git worktree remove --force "$work/base" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git worktree add --detach "$work/base" "$base" >/dev/null 2>&1

produce() {  # produce TREE OUT
    local tree=$1 out=$2
    (cd "$tree" && "$python" pipeline.py sample --out "$out/demo/song.mid" --no-audio \
        && "$python" pipeline.py sample --out "$out/t/track.ogg" --duration 90 --loop --mood meditation --seed 1 \
        && "$python" pipeline.py sample --out "$out/long/piece.mid" --no-audio --count 3 --duration 60 --seed 7 \
        && "$python" pipeline.py img2midi "$image" --out-dir "$out/img2midi") >"$out.log" 2>&1 \
        || { echo "same_midi: a command failed in $tree; see $out.log" >&2; tail -n 5 "$out.log" >&2; exit 1; }
}
produce "$work/base" "$work/before"
produce "$PWD" "$work/after"
(cd "$work/before" && find . -name '*.mid' | sort | xargs md5sum) >"$work/before.md5"
(cd "$work/after" && find . -name '*.mid' | sort | xargs md5sum) >"$work/after.md5"
if diff "$work/before.md5" "$work/after.md5"; then
    echo "same_midi: $(wc -l <"$work/after.md5") MIDI files, byte for byte the same as at $base"
else
    echo "same_midi: MIDI files differ from $base (above)" >&2
    exit 1
fi
