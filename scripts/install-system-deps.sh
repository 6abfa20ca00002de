#!/bin/sh
# Installs what rendering audio needs where it is missing: the fluidsynth shared library and the
# FluidR3 GM soundfont (Debian's fluid-soundfont-gm, 141 MB, MIT licence). Without the soundfont,
# audio is rendered with pretty_midi's small TimGM6mb bank and `sample` says so.
# With --browser: Chromium and its WebDriver instead (Debian's chromium, chromium-driver), for the
# studio's browser test; where they cannot be installed that test skips and says why.
set -e
if [ "$1" = "--browser" ]; then
    if command -v chromedriver >/dev/null 2>&1 && { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; }; then
        exit 0
    fi
    if [ "$(uname)" = "Darwin" ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "pianola: no chromium/chromedriver and no apt-get; the browser test will skip" >&2
        exit 0
    fi
    SUDO=""
    if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
    echo "installing chromium chromium-driver with apt-get (for the studio's browser test)"
    { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; } \
        || echo "pianola: could not install chromium; the browser test will skip" >&2
    exit 0
fi
if [ "$(uname)" = "Darwin" ]; then
    if ! brew list fluid-synth >/dev/null 2>&1; then
        echo "installing fluid-synth with Homebrew"
        brew install fluid-synth
    fi
    exit 0
fi
packages=""
if ! ldconfig -p 2>/dev/null | grep -q 'libfluidsynth\.so'; then
    packages="libfluidsynth3"
fi
if [ ! -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ] && [ ! -f /usr/share/soundfonts/FluidR3_GM.sf2 ]; then
    packages="$packages fluid-soundfont-gm"
fi
if [ -z "$packages" ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "pianola: missing $packages and apt-get is not available; install fluidsynth (and a FluidR3 GM soundfont) with your package manager" >&2
    case "$packages" in *libfluidsynth3*) exit 1 ;; esac
    exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
echo "installing $(echo $packages) with apt-get"
$SUDO apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $packages >/dev/null
