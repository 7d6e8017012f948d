#!/usr/bin/env bash
# Two "hosts" on one machine: two network namespaces joined by a veth pair
# (10.77.0.1 and 10.77.0.2, addresses that exist only inside them), with
# mpirun in the first starting Open MPI's daemon in the second through a
# launcher agent that does `ip netns exec` instead of ssh.  All MPI traffic
# (launcher and gradients) goes over TCP on the veth pair.  Trains a small
# model on 2 ranks, one per namespace, and compares it with one process.
#
# usage: mpi_two_hosts.sh ADJOINT MODEL_CLOSE
# Needs root and `ip netns`; exits 77 (skipped) with the reason otherwise.
set -euo pipefail
adjoint=$(realpath "$1")
model_close=$(realpath "$2")

skip() { echo "mpi_two_hosts: skipped: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root to create network namespaces"
command -v ip > /dev/null || skip "no ip command (iproute2)"
command -v mpirun > /dev/null || skip "no mpirun"
command -v unshare > /dev/null || skip "no unshare (util-linux)"

tag=adj$$
nsa=$tag-a
nsb=$tag-b
work=$(mktemp -d)
cleanup() {
    ip netns del "$nsa" 2> /dev/null || true
    ip netns del "$nsb" 2> /dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$nsa" 2> /dev/null || skip "ip netns add failed (no CAP_SYS_ADMIN?)"
ip netns add "$nsb"
# `ip netns exec` remounts / as a slave and /sys for the namespace; in a
# chroot whose / is not a mount point, or a container without the right,
# that fails ("mount --make-rslave /" failed) and nothing below can run
probe=$(ip netns exec "$nsa" true 2>&1) || skip "ip netns exec failed: ${probe:-no message}"
# the veth pair is created inside the first namespace, so nothing appears
# in the machine's own namespace even for a moment
ip -n "$nsa" link add veth-a type veth peer name veth-b netns "$nsb"
ip -n "$nsa" addr add 10.77.0.1/24 dev veth-a
ip -n "$nsb" addr add 10.77.0.2/24 dev veth-b
for ns in "$nsa" "$nsb"; do
    ip -n "$ns" link set lo up
done
ip -n "$nsa" link set veth-a up
ip -n "$nsb" link set veth-b up
for i in $(seq 50); do
    ip -n "$nsb" -br link show veth-b | grep -q ' UP ' &&
        ip -n "$nsa" -br link show veth-a | grep -q ' UP ' && break
    sleep 0.1
done
# reachability without ping: a TCP connection to a closed port of the
# other end is refused, which needs packets to go both ways
reply=$(ip netns exec "$nsa" timeout 5 bash -c 'exec 3<> /dev/tcp/10.77.0.2/9' 2>&1 || true)
case "$reply" in
*refused*) ;;
*) skip "the veth pair does not pass traffic: $reply" ;;
esac

# The launcher agent: called by mpirun as `agent [ssh options] HOST COMMAND...`
# like ssh; runs COMMAND in HOST's namespace, under its own host name (the
# two namespaces share one UTS namespace otherwise, and Open MPI tells its
# nodes apart by name).
cat > "$work/agent.sh" << EOF
#!/bin/sh
while [ \$# -gt 0 ]; do
    case "\$1" in
    -*) shift ;;
    *) break ;;
    esac
done
host=\$1
shift
case "\$host" in
10.77.0.1) ns=$nsa name=node-a ;;
10.77.0.2) ns=$nsb name=node-b ;;
*) echo "agent: unknown host \$host" >&2; exit 1 ;;
esac
exec ip netns exec "\$ns" unshare --uts /bin/sh -c "hostname \$name; \$*"
EOF
chmod +x "$work/agent.sh"
cd "$work"

awk 'BEGIN { srand(11); print "a,b,c,d,e,f,label";
    for (i = 0; i < 900; i++) { s = 0; t = 0; line = "";
        for (j = 0; j < 6; j++) { v = rand() * 2 - 1; s += v * (j + 1); t += v * (j % 2 ? 1 : -1);
                                   line = line sprintf("%.5f,", v) }
        print line (s > t ? (s > 1 ? 2 : 1) : 0) } }' > data.csv
common=(--data csv:data.csv --layers 16,8 --dropout 0 --no-batchnorm --optimizer sgd --lr 0.05
        --epochs 3 --seed 5 --threads 1 --batch 64)

echo "== one process"
"$adjoint" train "${common[@]}" --quiet --out one

echo "== 2 ranks: node-a ($nsa, 10.77.0.1) and node-b ($nsb, 10.77.0.2) over TCP"
mca=(--mca plm_rsh_agent "$work/agent.sh"
     --mca btl self,tcp --mca btl_tcp_if_include 10.77.0.0/24
     --mca oob_tcp_if_include 10.77.0.0/24
     --bind-to none)
# --bind-to none: each "host" believes it owns every core of the machine,
# and Open MPI's default binding would pin both ranks to core 0 (4 ms
# per all-reduce as they take turns on it); on real hosts keep the binding
rc=0
timeout 300 ip netns exec "$nsa" unshare --uts /bin/sh -c 'hostname node-a; exec "$@"' sh \
    mpirun --allow-run-as-root "${mca[@]}" --host 10.77.0.1:1,10.77.0.2:1 -np 2 \
    -x PATH \
    /bin/sh -c 'echo "rank $OMPI_COMM_WORLD_RANK on $(hostname), $(ip -br -4 addr show | grep veth)" >&2; exec "$@"' sh \
    "$adjoint" train "${common[@]}" --out two > two.log 2>&1 || rc=$?
cat two.log
[ "$rc" -ne 124 ] || { echo "FAIL: mpirun across the namespaces hung" >&2; exit 1; }
[ "$rc" -eq 0 ] || { echo "FAIL: mpirun across the namespaces failed ($rc)" >&2; exit 1; }
grep -q 'on node-b, veth-b' two.log || { echo "FAIL: no rank ran in $nsb" >&2; exit 1; }
grep -q 'batch 64 = 2 ranks x 32' two.log || { echo "FAIL: not 2 ranks" >&2; exit 1; }
"$model_close" two/model.adj one/model.adj 1e-4 1e-6 ||
    { echo "FAIL: 2 ranks over TCP differ from one process" >&2; exit 1; }
echo "mpi_two_hosts: 2 ranks in 2 namespaces over TCP train the single-process model"
