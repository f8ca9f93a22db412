#!/bin/sh
# Installs the Debian 12 packages taskfarm needs to build, test and run
# its examples: a C toolchain, autotools, Open MPI, Check and pkg-config,
# GNU parallel, which the tests compare taskfarm with, tmux, in which
# tests/progress.sh draws the progress line, chromium, in which
# tests/report.sh opens taskfarm report's page, and python3, with which
# the tests read JSON.
# Run as root (or through sudo). Safe to run again.
set -eu
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
	build-essential autoconf automake libtool autoconf-archive pkg-config \
	openmpi-bin libopenmpi-dev check procps time parallel ca-certificates tmux \
	chromium python3 \
	>/dev/null
echo "tools/debian-deps.sh: build dependencies installed"
