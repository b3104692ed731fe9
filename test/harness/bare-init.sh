#!/usr/bin/env bash
# Runs inside a bare host's new network, mount and UTS namespaces (see bare.sh): makes the rootfs the root
# of the mount namespace (pivot_root, so the host's own dockerd can later pivot_root its containers too),
# starts the rootfs's sshd and exits. sshd keeps the namespaces alive.
# Usage: bare-init.sh <rootfs> <run-dir> <name> <log-dir>
set -euo pipefail
root=$1
run=$2
name=$3
logs=$4

hostname "$name"
mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --rbind /dev "$root/dev"
# /run is seen from the operator as <run-dir> (docker.sock for test assertions), as on the other nodes.
mount --bind "$run" "$root/run"
mkdir -p "$root/var/log/harness"
mount --bind "$logs" "$root/var/log/harness"
cd "$root"
mkdir -p .old-root
pivot_root . .old-root
cd /
umount -l /.old-root
rmdir /.old-root
mkdir -p -m 755 /run/sshd
exec /usr/sbin/sshd -E /var/log/harness/sshd.log
