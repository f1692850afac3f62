#!/usr/bin/env bash
# repli's two-site libvirt lab: one independent libvirt daemon per site on
# this machine, the domains of runbooks/examples/lab-switchover.yaml defined
# at both (running at the primary, shut off at the secondary), and repli
# opened on that runbook.
#
#   scripts/lab.sh up       install what is missing, start both sites, define the domains
#   scripts/lab.sh open     run bin/repli on the lab runbook against them (extra args go to repli)
#   scripts/lab.sh status   what virsh sees at both sites
#   scripts/lab.sh down     destroy the guests, stop the daemons, remove the lab
#   scripts/lab.sh deps [lab|test]   install the Debian packages that are missing
#                                    (test: also QEMU, sshd, ssh and nc for `make test`)
#
# Which hypervisor: LAB_DRIVER=test (the default) or LAB_DRIVER=qemu.
#   test  libvirt's own test driver, served by a daemon started with no driver
#         module at all (so two of them coexist, and nothing touches the
#         machine's own libvirt). Starts in a tenth of a second, needs only
#         libvirt-daemon and libvirt-clients, and its sockets are the URIs
#         written in lab-switchover.yaml. Its domains are simulated: a
#         shutdown is instant. The daemon forgets them when its last client
#         leaves, so the lab keeps one `virsh event --loop` client per site.
#   qemu  real guests: a session-mode daemon per site run by an unprivileged
#         user (repli-primary, repli-secondary), tiny TCG guests (64 MiB, no
#         /dev/kvm needed) that ignore ACPI shutdown, so the runbook's
#         graceful-shutdown timeout and forced off really happen. db-01 has
#         a disk, images/db-01.raw (16 MiB, a directory pool at each site):
#         the primary's starts with a line saying when it was written, the
#         secondary's is a blank standby copy, so the copy of the final
#         pass (runbooks/examples/lab-drill.yaml) and its way back can be
#         seen. Needs qemu-system-x86 (about 21 MB); the first start probes
#         QEMU for about 4 s. repli gets --site overrides for these sockets.
#         LAB_RUNBOOK=lab-drill scripts/lab.sh open runs the drill instead.
# Both keep everything under LAB_DIR (default /tmp/repli-lab: unix socket
# paths must stay under 108 bytes), logs included, with pid files; no
# systemd is needed, and libvirt-daemon-system is never installed.
set -euo pipefail

LAB_DIR=${LAB_DIR:-/tmp/repli-lab}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPLI=${REPLI:-$ROOT/bin/repli}
RUNBOOK=$ROOT/runbooks/examples/${LAB_RUNBOOK:-lab-switchover}.yaml
SITES=(primary secondary)
DOMAINS=(db-01 app-01 app-02 web-01)
# QEMU's capabilities cache (about 4 s to fill): kept with the lab, so
# that nothing of it outlives `down`.
QEMU_CACHE=$LAB_DIR/qemu-cache

say() { printf 'lab: %s\n' "$*"; }
die() { printf 'lab: %s\n' "$*" >&2; exit 1; }

# tool NAME: the path of a program, looking in sbin directories too.
tool() {
	local d
	command -v "$1" 2>/dev/null && return 0
	for d in /usr/sbin /sbin /usr/local/sbin; do
		[ -x "$d/$1" ] && { echo "$d/$1"; return 0; }
	done
	return 1
}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

# deps WHAT: install the missing packages. Without root or apt-get, say what
# is missing and go on (tests then skip, loudly), except under CI=true.
deps() {
	local what=${1:-lab} pkgs=(libvirt-daemon libvirt-clients) missing=() p
	[ "$what" = test ] && pkgs+=(qemu-system-x86 openssh-server openssh-client netcat-openbsd)
	[ "$what" = qemu ] && pkgs+=(qemu-system-x86)
	if ! command -v dpkg-query >/dev/null; then
		tool libvirtd >/dev/null && tool virsh >/dev/null && return 0
		[ "${CI:-}" = true ] && die "not a Debian machine and libvirt is missing"
		say "not a Debian machine: install libvirtd and virsh yourself (real-libvirt tests skip without them)"
		return 0
	fi
	for p in "${pkgs[@]}"; do installed "$p" || missing+=("$p"); done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
		local msg="missing packages: ${missing[*]} (apt-get install --no-install-recommends ${missing[*]}, as root)"
		[ "${CI:-}" = true ] && die "$msg"
		say "$msg; the real-libvirt tests will skip"
		[ "$what" = test ] && return 0
		exit 1
	fi
	say "installing ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# alive PID: the process runs (a zombie, exited but not yet reaped, does not).
alive() {
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	[[ $st != Z* ]]
}

pid_of() { [ -s "$1" ] && cat "$1"; }

# stop_pid PIDFILE: TERM, then KILL after 5 s.
stop_pid() {
	local pid i
	pid=$(pid_of "$1") || return 0
	if alive "$pid"; then
		kill -CONT "$pid" 2>/dev/null || true
		kill -TERM "$pid" 2>/dev/null || true
		for i in $(seq 50); do alive "$pid" || break; sleep 0.1; done
		alive "$pid" && kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$1"
}

driver() { cat "$LAB_DIR/driver" 2>/dev/null || echo "${LAB_DRIVER:-test}"; }
sock() { if [ "$(driver)" = qemu ]; then echo "$LAB_DIR/$1/rt/libvirt/libvirt-sock"; else echo "$LAB_DIR/$1/run/libvirt-sock"; fi; }
uri() { if [ "$(driver)" = qemu ]; then echo "qemu+unix:///session?socket=$(sock "$1")"; else echo "test+unix:///default?socket=$(sock "$1")"; fi; }
virsh_at() { local site=$1; shift; timeout 60 virsh -q -c "$(uri "$site")" "$@"; }

conf() {
	cat <<EOF
unix_sock_dir = "$(dirname "$(sock "$1")")"
auth_unix_rw = "none"
auth_unix_ro = "none"
listen_tcp = 0
listen_tls = 0
log_outputs = "3:file:$LAB_DIR/$1/log/libvirtd.log"
EOF
}

wait_socket() {
	local i
	for i in $(seq 150); do
		[ -S "$(sock "$1")" ] && virsh -q -c "$(uri "$1")" version >/dev/null 2>&1 && return 0
		alive "$(pid_of "$LAB_DIR/$1/libvirtd.pid" || echo 0)" || [ "$i" -lt 20 ] || break
		sleep 0.1
	done
	die "site $1: libvirtd does not answer on $(sock "$1"); see $LAB_DIR/$1/log/"
}

domain_xml() {
	if [ "$(driver)" = qemu ]; then
		local disk=""
		[ "$1" = db-01 ] && disk="<disk type='volume' device='disk'><driver name='qemu' type='raw'/><source pool='images' volume='db-01.raw'/><target dev='vda' bus='virtio'/></disk>"
		cat <<EOF
<domain type='qemu'>
  <name>$1</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <features><acpi/></features>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    $disk
    <serial type='pty'/>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
	else
		echo "<domain type='test'><name>$1</name><memory unit='MiB'>64</memory><os><type>hvm</type></os></domain>"
	fi
}

# up_test SITE: a test-driver daemon, and a client that keeps its state.
up_test() {
	local site=$1 d=$LAB_DIR/$1 cmds="" dom
	mkdir -p "$d/run" "$d/log" "$d/nodrivers"
	conf "$site" >"$d/libvirtd.conf"
	if alive "$(pid_of "$d/libvirtd.pid" || echo 0)"; then
		say "site $site: already running ($(uri "$site"))"
		return 0
	fi
	# An empty driver directory: no driver module loads, the daemon serves
	# the built-in test driver only.
	LIBVIRT_DRIVER_DIR=$d/nodrivers setsid "$(tool libvirtd)" -f "$d/libvirtd.conf" -p "$d/libvirtd.pid" \
		</dev/null >>"$d/log/daemon.out" 2>&1 &
	wait_socket "$site"
	# One virsh defines the domains and then stays connected: the test
	# driver would forget them the moment its last client left.
	for dom in "${DOMAINS[@]}"; do
		domain_xml "$dom" >"$d/$dom.xml"
		cmds+="define $d/$dom.xml; "
		[ "$site" = primary ] && cmds+="start $dom; "
	done
	setsid virsh -c "$(uri "$site")" "${cmds}event --all --loop" </dev/null >>"$d/log/holder.log" 2>&1 &
	echo $! >"$d/holder.pid"
	for _ in $(seq 50); do
		[ "$(virsh_at "$site" list --all --name | grep -c .)" -gt "${#DOMAINS[@]}" ] && break
		sleep 0.1
	done
	say "site $site: $(uri "$site")"
}

# pool_qemu SITE USER: the site's directory pool "images" and db-01's disk in
# it; at the primary the disk's first line says when it was written.
pool_qemu() {
	local site=$1 user=$2 pool=$LAB_DIR/$1/pool
	if ! virsh_at "$site" pool-info images >/dev/null 2>&1; then
		mkdir -p "$pool"
		[ "$(id -u)" = 0 ] && chown "$user:" "$pool"
		virsh_at "$site" pool-define-as images dir --target "$pool" >/dev/null
	fi
	virsh_at "$site" pool-info images 2>/dev/null | grep -q '^State: *running' || virsh_at "$site" pool-start images >/dev/null
	if ! virsh_at "$site" vol-info --pool images db-01.raw >/dev/null 2>&1; then
		virsh_at "$site" vol-create-as images db-01.raw 16M --format raw >/dev/null
		if [ "$site" = primary ]; then
			printf 'repli lab: db-01 data written at the primary on %s\n' "$(date -u +%FT%TZ)" |
				dd of="$pool/db-01.raw" conv=notrunc status=none
		fi
	fi
}

# up_qemu SITE: a session daemon of user repli-SITE with tiny TCG guests.
up_qemu() {
	local site=$1 d=$LAB_DIR/$1 user=repli-$1 env dom
	tool qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 is missing: scripts/lab.sh deps qemu"
	if [ "$(id -u)" = 0 ]; then
		# A shell and the password "*" (which nothing matches) let an sshd
		# log it in with a key, for qemu+ssh:// experiments.
		# A user the lab creates is recorded, and removed by `down`.
		if ! id "$user" >/dev/null 2>&1; then
			useradd -M -d /nonexistent -s /bin/sh -p '*' "$user"
			echo "$user" >>"$LAB_DIR/users"
		fi
	else
		user=$(id -un)
	fi
	mkdir -p "$LAB_DIR" "$d/rt/libvirt" "$d/log" "$d/cfg" "$d/data" "$d/home" "$QEMU_CACHE/$user"
	chmod 700 "$d/rt"
	chmod 755 "$LAB_DIR" "$d" "$QEMU_CACHE"
	conf "$site" >"$d/libvirtd.conf"
	[ "$(id -u)" = 0 ] && chown -R "$user:" "$d" "$QEMU_CACHE/$user"
	if ! alive "$(pid_of "$d/libvirtd.pid" || echo 0)"; then
		env=(HOME="$d/home" XDG_RUNTIME_DIR="$d/rt" XDG_CONFIG_HOME="$d/cfg" XDG_CACHE_HOME="$QEMU_CACHE/$user"
			XDG_DATA_HOME="$d/data" PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
		if [ "$(id -u)" = 0 ]; then
			setsid setpriv --reuid="$user" --regid="$user" --init-groups env -i "${env[@]}" \
				"$(tool libvirtd)" -f "$d/libvirtd.conf" -p "$d/libvirtd.pid" </dev/null >>"$d/log/daemon.out" 2>&1 &
		else
			setsid env -i "${env[@]}" "$(tool libvirtd)" -f "$d/libvirtd.conf" -p "$d/libvirtd.pid" \
				</dev/null >>"$d/log/daemon.out" 2>&1 &
		fi
		wait_socket "$site"
	fi
	pool_qemu "$site" "$user"
	for dom in "${DOMAINS[@]}"; do
		if ! virsh_at "$site" dominfo "$dom" >/dev/null 2>&1; then
			domain_xml "$dom" >"$d/$dom.xml"
			virsh_at "$site" define "$d/$dom.xml" >/dev/null
		fi
		if [ "$site" = primary ] && [ "$(virsh_at "$site" domstate "$dom")" != running ]; then
			virsh_at "$site" start "$dom" >/dev/null
		fi
	done
	say "site $site: $(uri "$site") (daemon of $user)"
}

up() {
	local drv=${LAB_DRIVER:-test}
	[ -f "$LAB_DIR/driver" ] && [ "$(cat "$LAB_DIR/driver")" != "$drv" ] &&
		die "a $(cat "$LAB_DIR/driver") lab is already up in $LAB_DIR: scripts/lab.sh down first"
	case $drv in
	test) deps lab ;;
	qemu) deps qemu ;;
	*) die "LAB_DRIVER=$drv: use test or qemu" ;;
	esac
	mkdir -p "$LAB_DIR"
	echo "$drv" >"$LAB_DIR/driver"
	local site
	for site in "${SITES[@]}"; do "up_$drv" "$site"; done
	say "up ($drv driver). Next: make lab (or scripts/lab.sh open); stop it with make lab-stop"
}

status() {
	local site
	[ -f "$LAB_DIR/driver" ] || { say "no lab in $LAB_DIR"; return 0; }
	for site in "${SITES[@]}"; do
		echo "== $site: $(uri "$site")"
		virsh_at "$site" list --all || true
	done
}

down() {
	local site d pid
	[ -d "$LAB_DIR" ] || { say "no lab in $LAB_DIR"; return 0; }
	for site in "${SITES[@]}"; do
		d=$LAB_DIR/$site
		[ -d "$d" ] || continue
		# QEMU processes outlive a stopped daemon: destroy the guests first.
		if [ "$(driver)" = qemu ] && alive "$(pid_of "$d/libvirtd.pid" || echo 0)"; then
			for dom in $(virsh_at "$site" list --name 2>/dev/null); do
				virsh_at "$site" destroy "$dom" >/dev/null 2>&1 &
			done
			wait
		fi
		stop_pid "$d/holder.pid"
		stop_pid "$d/libvirtd.pid"
		# The session daemon started a virtlogd of its own, which would
		# outlive it (it exits only after 2 minutes idle).
		stop_pid "$d/rt/libvirt/virtlogd.pid"
		# Anything still running from this site's directory is ours: a guest
		# whose daemon was killed, say; or run with this site's runtime
		# directory (a virtlogd whose pid file is gone).
		for pid in $(ours "$d"); do
			[ "$pid" != $$ ] && kill -KILL "$pid" 2>/dev/null || true
		done
		say "site $site: stopped"
	done
	local users left i
	users=$(cat "$LAB_DIR/users" 2>/dev/null || true)
	rm -rf "$LAB_DIR"
	for i in $(seq 30); do
		left=$(for site in "${SITES[@]}"; do ours "$LAB_DIR/$site"; done)
		[ -z "$left" ] && break
		sleep 0.1
	done
	[ -z "$left" ] || die "still running after down: $(echo $left)"
	# The users the lab created, when nothing runs as them any more (a
	# test run may use them too).
	for u in $users; do
		pgrep -u "$u" >/dev/null 2>&1 || userdel "$u" 2>/dev/null || true
	done
}

# ours DIR: the processes whose command line names DIR/, or whose runtime
# directory is DIR/rt.
ours() {
	local p pid
	for p in /proc/[0-9]*; do
		pid=${p#/proc/}
		[ "$pid" = $$ ] && continue
		if grep -qsF "$1/" "$p/cmdline" || tr '\0' '\n' 2>/dev/null <"$p/environ" | grep -qxF "XDG_RUNTIME_DIR=$1/rt"; then
			alive "$pid" && echo "$pid"
		fi
	done
	return 0
}

open_repli() {
	[ -f "$LAB_DIR/driver" ] || die "the lab is not up: scripts/lab.sh up (or make lab)"
	[ -x "$REPLI" ] || die "$REPLI is missing: make build"
	exec "$REPLI" run "$RUNBOOK" --site "primary=$(uri primary)" --site "secondary=$(uri secondary)" "$@"
}

case ${1:-} in
up) up ;;
open) shift; open_repli "$@" ;;
status) status ;;
down) down ;;
deps) deps "${2:-lab}" ;;
*) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2 ;;
esac
