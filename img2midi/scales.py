"""The major and natural minor scales, as pitch classes above the tonic.

One home for the moods of `sample` (which write in them) and the quality metrics (which
measure how much of a roll lies in one), light enough that `train` need not load music21.
"""

MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)  # natural minor: sad without the harmonic minor's exotic leading tone
