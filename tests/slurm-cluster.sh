# A real Slurm cluster on this one machine, for tests: munged, slurmctld
# and one slurmd per simulated node (node1..nodeN, each on its own port,
# all on 127.0.0.1), configured in a scratch directory through SLURM_CONF.
# Needs root and Debian's slurm-wlm and munge packages (slurmd -N works
# there: Debian builds Slurm with --enable-multiple-slurmd).
#
# As a library (tests/slurm.sh):
#     . tests/slurm-cluster.sh
#     slurm_cluster_start DIR [NODES]   # exports SLURM_CONF; traps EXIT
#     ...sbatch, squeue, scontrol...
#     slurm_cluster_stop                # stops exactly what it started
# By hand, a cluster for as long as a command (or a shell) runs:
#     sh tests/slurm-cluster.sh [COMMAND...]
#
# What the configuration needs, and why:
# - more CPUs per node than the machine has: SlurmdParameters=config_overrides;
# - several slurmd on one host: each its own Port, spool, log and pid file
#   (%n is the node name), and its own TmpFS, because the PMIx plugin makes
#   its client directory under TmpFS and the nodes of one step would collide;
# - Open MPI through srun: MpiDefault=pmix (Debian's Open MPI has no PMI2);
#   Open MPI as root, and TCP over loopback (shared memory between
#   simulated nodes would be wrong), set in every task by a TaskProlog;
# - GPUs: a gres.conf whose "devices" are symbolic links to /dev/null:
#   slurmd requires a character or block device ("is not a valid character
#   or block device, fix your gres.conf" for a plain file, and then no
#   CUDA_VISIBLE_DEVICES), but only stat()s it; it sets
#   CUDA_VISIBLE_DEVICES and SLURM_STEP_GPUS from the indices it allocates;
# - processes tracked by proctrack/linuxproc (no cgroups needed), which
#   signals every process of a step, the ranks' tasks too, where
#   proctrack/cgroup signals only the ranks; SLURM_CLUSTER_PROCTRACK=pgid
#   (the ranks' process groups only) behaves like cgroup for signals;
# - accounting off: ask `scontrol show job`, never sacct.

slurm_cluster_dir=
slurm_cluster_pids=

# slurm_cluster_free_port: a TCP port with NODES+1 free ports after it.
slurm_cluster_free_port() {
	n=$1
	used=$(ss -Htan 2>/dev/null | awk '{ sub(/.*:/, "", $4); print $4 }')
	tries=0
	while [ $tries -lt 50 ]; do
		base=$(( (($$ + tries * 7919) % 20000) + 20000 ))
		i=0
		clash=
		while [ $i -le "$n" ]; do
			if printf '%s\n' "$used" | grep -qx "$((base + i))"; then
				clash=1
				break
			fi
			i=$((i + 1))
		done
		[ -z "$clash" ] && { echo "$base"; return 0; }
		tries=$((tries + 1))
	done
	return 1
}

# slurm_cluster_start DIR [NODES]: configure and start the cluster in DIR
# (created; must not be shared with another cluster). Returns non-zero,
# with the daemons' logs on stderr, if the nodes are not idle in 60 s.
slurm_cluster_start() {
	d=$1
	nodes=${2:-4}
	slurm_cluster_dir=$d
	mkdir -p "$d" || return 1
	d=$(cd "$d" && pwd)
	slurm_cluster_dir=$d
	# munged and jobs (running as root, but still) must traverse it.
	chmod 755 "$d"
	mkdir -p "$d/munge" "$d/state" "$d/log" "$d/spool" "$d/dev" "$d/tmp"
	trap slurm_cluster_stop EXIT
	trap 'exit 129' HUP
	trap 'exit 130' INT
	trap 'exit 143' TERM

	# MUNGE: a private key, socket and pid file, run as the munge user
	# (munged refuses directories others can write to).
	dd if=/dev/urandom of="$d/munge/munge.key" bs=1024 count=1 2>/dev/null
	chown -R munge:munge "$d/munge"
	# Clients must reach the socket: munged wants execute for all on its
	# directory, and write for none but itself.
	chmod 711 "$d/munge"
	chmod 400 "$d/munge/munge.key"
	setpriv --reuid=munge --regid=munge --clear-groups \
		munged -F --socket="$d/munge/munge.socket" \
		--key-file="$d/munge/munge.key" --pid-file="$d/munge/munged.pid" \
		--log-file="$d/munge/munged.log" --seed-file="$d/munge/munged.seed" \
		</dev/null >"$d/log/munged.out" 2>&1 &
	slurm_cluster_pids="$!"

	port=$(slurm_cluster_free_port "$nodes") || {
		echo "slurm-cluster: no free ports" >&2
		return 1
	}
	host=$(hostname)
	i=1
	while [ $i -le "$nodes" ]; do
		mkdir -p "$d/tmp/node$i" "$d/spool/node$i"
		i=$((i + 1))
	done
	i=0
	while [ $i -lt 4 ]; do
		ln -sf /dev/null "$d/dev/nvidia$i"
		i=$((i + 1))
	done

	cat >"$d/taskprolog.sh" <<'EOF'
#!/bin/sh
# Every task: Open MPI as root, over TCP on loopback only.
echo export OMPI_ALLOW_RUN_AS_ROOT=1
echo export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
echo export OMPI_MCA_btl=self,tcp
echo export OMPI_MCA_btl_tcp_if_include=lo
echo export OMPI_MCA_oob_tcp_if_include=lo
echo export OMPI_MCA_rmaps_base_oversubscribe=1
echo export OMPI_MCA_hwloc_base_binding_policy=none
echo export PMIX_MCA_gds=hash
EOF
	chmod 755 "$d/taskprolog.sh"

	cat >"$d/gres.conf" <<EOF
AutoDetect=off
Name=gpu File=$d/dev/nvidia[0-3]
EOF

	cat >"$d/slurm.conf" <<EOF
ClusterName=tftest
SlurmctldHost=localhost
SlurmctldPort=$port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$d/munge/munge.socket
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool/%n
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd-%n.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
TmpFS=$d/tmp/%n
SlurmdParameters=config_overrides
ProctrackType=proctrack/${SLURM_CLUSTER_PROCTRACK:-linuxproc}
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
JobRequeue=1
ReturnToService=2
KillWait=5
MinJobAge=600
InactiveLimit=0
TaskProlog=$d/taskprolog.sh
GresTypes=gpu
EOF
	i=1
	while [ $i -le "$nodes" ]; do
		echo "NodeName=node$i NodeHostname=$host NodeAddr=127.0.0.1" \
			"Port=$((port + i)) CPUs=4 RealMemory=1000 Gres=gpu:4" \
			"State=UNKNOWN" >>"$d/slurm.conf"
		i=$((i + 1))
	done
	echo "PartitionName=debug Nodes=node[1-$nodes] Default=YES" \
		"MaxTime=INFINITE State=UP" >>"$d/slurm.conf"
	SLURM_CONF=$d/slurm.conf
	export SLURM_CONF

	# munged must be listening before the Slurm daemons authenticate.
	t=0
	until [ -S "$d/munge/munge.socket" ]; do
		t=$((t + 1))
		[ $t -gt 100 ] && { slurm_cluster_logs >&2; return 1; }
		sleep 0.1
	done
	slurmctld -D -f "$SLURM_CONF" </dev/null >"$d/log/slurmctld.out" 2>&1 &
	slurm_cluster_pids="$slurm_cluster_pids $!"
	i=1
	while [ $i -le "$nodes" ]; do
		slurmd -D -N "node$i" -f "$SLURM_CONF" </dev/null \
			>"$d/log/slurmd-node$i.out" 2>&1 &
		slurm_cluster_pids="$slurm_cluster_pids $!"
		i=$((i + 1))
	done
	echo "$slurm_cluster_pids" >"$d/pids"

	# Wait until every node is idle.
	t=0
	while :; do
		idle=$(sinfo -h -N -t idle -o '%N' 2>/dev/null | sort -u | wc -l)
		[ "$idle" -eq "$nodes" ] && return 0
		t=$((t + 1))
		if [ $t -gt 120 ]; then
			echo "slurm-cluster: nodes not idle after 60 s" >&2
			sinfo -N >&2
			slurm_cluster_logs >&2
			return 1
		fi
		sleep 0.5
	done
}

# slurm_cluster_logs: the tail of every daemon's log.
slurm_cluster_logs() {
	for f in "$slurm_cluster_dir"/log/* "$slurm_cluster_dir"/munge/munged.log; do
		[ -s "$f" ] || continue
		echo "== $f"
		tail -n 15 "$f"
	done
}

# slurm_cluster_stop: cancel what is left and stop the daemons this shell
# started, by pid (never by name: another cluster may be running).
slurm_cluster_stop() {
	[ -n "$slurm_cluster_pids" ] || return 0
	scancel --quiet --user=root 2>/dev/null
	for pid in $slurm_cluster_pids; do
		kill -TERM "$pid" 2>/dev/null
	done
	t=0
	for pid in $slurm_cluster_pids; do
		while kill -0 "$pid" 2>/dev/null && [ $t -lt 100 ]; do
			sleep 0.1
			t=$((t + 1))
		done
		kill -KILL "$pid" 2>/dev/null
	done
	wait 2>/dev/null
	slurm_cluster_pids=
}

# Run by hand: start a cluster, run the command (default: a shell) with
# SLURM_CONF set, stop the cluster.
if [ "$(basename -- "$0")" = slurm-cluster.sh ]; then
	[ "$(id -u)" -eq 0 ] || { echo "slurm-cluster.sh: needs root" >&2; exit 77; }
	dir=$(mktemp -d "${TMPDIR:-/tmp}/tfslurm-XXXXXX")
	slurm_cluster_start "$dir" "${SLURM_CLUSTER_NODES:-4}" || exit 1
	trap 'slurm_cluster_stop; rm -rf "$dir"' EXIT
	echo "slurm-cluster: SLURM_CONF=$SLURM_CONF" >&2
	sinfo >&2
	if [ $# -gt 0 ]; then "$@"; else "${SHELL:-/bin/sh}"; fi
fi
