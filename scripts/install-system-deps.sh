#!/bin/sh
# Installs the fluidsynth shared library (used to render WAV) where it is missing.
set -e
if [ "$(uname)" = "Darwin" ]; then
    if ! brew list fluid-synth >/dev/null 2>&1; then
        echo "installing fluid-synth with Homebrew"
        brew install fluid-synth
    fi
    exit 0
fi
if ldconfig -p 2>/dev/null | grep -q 'libfluidsynth\.so'; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "pianola: libfluidsynth is missing and apt-get is not available; install fluidsynth with your package manager" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
echo "installing libfluidsynth3 with apt-get"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libfluidsynth3 >/dev/null
