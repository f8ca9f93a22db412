#!/bin/sh
# Installs what tests/slurm.sh needs beyond tools/debian-deps.sh on Debian
# 12: Slurm 22.05 (slurmctld, slurmd, the client commands and its PMIx
# plugin, all through slurm-wlm) and MUNGE. With --if-missing, does
# nothing when slurmctld, slurmd and munged are already there. Installs
# no service: the test starts its own daemons and stops them. Run as root
# (or through sudo). Safe to run again.
set -eu
if [ "${1:-}" = --if-missing ] &&
	command -v slurmctld >/dev/null 2>&1 && command -v slurmd >/dev/null 2>&1 &&
	command -v munged >/dev/null 2>&1; then
	exit 0
fi
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
	slurm-wlm munge util-linux iproute2 >/dev/null
echo "tools/slurm-deps.sh: slurm-wlm and munge installed"
