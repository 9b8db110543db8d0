# test/lib.sh: set-up shared by test/run, test/demo and the script tests.
#
# Sourced, not run.  Installs what is missing, builds and installs the
# extension, and starts or stops throwaway Postgres instances.  The server
# refuses to run as root, so as root every server-side command runs as the
# postgres user, in directories that user owns.

TA_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Debian's 15 is the server unless PG_CONFIG names another installed one.
if [ -n "${PG_CONFIG:-}" ]; then
	TA_PACKAGES="libzstd-dev libipc-run-perl make gcc"
else
	TA_PACKAGES="postgresql-15 postgresql-server-dev-15 libzstd-dev libipc-run-perl make gcc"
fi

# Nothing may depend on the caller's locale, which may be none at all: the
# instances are made with UTF8 and C.UTF-8 (initdb, and pg_regress, which
# takes the locale from the environment), and every client runs in it too.
for ta_v in LANGUAGE LC_ALL $(compgen -e | grep '^LC_'); do
	unset "$ta_v"
done
unset ta_v
export LANG=C.UTF-8

ta_log() { printf '== %s\n' "$*" >&2; }

# Run a command as the server's owner.
ta_as_pg() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

ta_install_packages() {
	local missing="" p
	for p in $TA_PACKAGES; do
		dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
	done
	# The client tests need Node.js and npm, from wherever they came.
	if [ -n "${TA_WITH_NODE:-}" ]; then
		command -v node >/dev/null 2>&1 || missing="$missing nodejs"
		command -v npm >/dev/null 2>&1 || missing="$missing npm"
	fi
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" != 0 ]; then
		echo "missing packages:$missing (run as root to install them)" >&2
		return 1
	fi
	ta_log "installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null
	# postgresql-common would create and start a system cluster; we never use it.
	mkdir -p /etc/postgresql-common
	grep -qs '^create_main_cluster' /etc/postgresql-common/createcluster.conf ||
		echo 'create_main_cluster = false' >>/etc/postgresql-common/createcluster.conf
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

ta_build_install() {
	export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
	ta_log "building and installing trace_agg with $PG_CONFIG ($("$PG_CONFIG" --version))"
	# Objects built against another server must not be reused for this one.
	local built_for=$TA_ROOT/.built-for now
	now="$PG_CONFIG $("$PG_CONFIG" --version)"
	[ "$(cat "$built_for" 2>/dev/null)" = "$now" ] ||
		make -C "$TA_ROOT" -s PG_CONFIG="$PG_CONFIG" clean >/dev/null
	make -C "$TA_ROOT" -s PG_CONFIG="$PG_CONFIG" >/dev/null || return 1
	echo "$now" >"$built_for"
	TA_BINDIR=$("$PG_CONFIG" --bindir)
	if [ -n "${TA_SANDBOX:-}" ]; then
		# A private, relocated copy of the server with the extension in it,
		# so that parallel work in several trees does not share one install.
		local lib share
		lib=$(dirname "$TA_BINDIR")
		share=$("$PG_CONFIG" --sharedir)
		mkdir -p "$TA_SANDBOX$lib" "$TA_SANDBOX$share"
		# (copied again when the server was rebuilt since)
		cmp -s "$TA_BINDIR/postgres" "$TA_SANDBOX$TA_BINDIR/postgres" || {
			rm -rf "$TA_SANDBOX$lib" "$TA_SANDBOX$share"
			mkdir -p "$TA_SANDBOX$lib" "$TA_SANDBOX$share"
			cp -a "$lib/." "$TA_SANDBOX$lib/"
			cp -a "$share/." "$TA_SANDBOX$share/"
		}
		make -C "$TA_ROOT" -s PG_CONFIG="$PG_CONFIG" DESTDIR="$TA_SANDBOX" install >/dev/null
		TA_BINDIR=$TA_SANDBOX$TA_BINDIR
		chmod -R a+rX "$TA_SANDBOX"
	else
		make -C "$TA_ROOT" -s PG_CONFIG="$PG_CONFIG" install >/dev/null
	fi
	TA_PGXS_DIR=$(dirname "$("$PG_CONFIG" --pgxs)")/..
	export TA_BINDIR TA_PGXS_DIR
}

ta_setup() {
	ta_install_packages && ta_build_install
}

# ta_mktemp VAR: make a scratch directory the server's owner can write and
# store its path in VAR (not printed: a $(...) subshell would lose the
# record that ta_cleanup needs).
TA_TMPDIRS=()
ta_mktemp() {
	local d
	d=$(mktemp -d "${TMPDIR:-/tmp}/trace_agg.XXXXXX")
	chmod 755 "$d"
	[ "$(id -u)" = 0 ] && chown postgres: "$d"
	TA_TMPDIRS+=("$d")
	printf -v "$1" '%s' "$d"
}

# A TCP port nothing listens on, below the kernel's ephemeral range: a port
# in that range may be taken at any moment by the local end of an outgoing
# connection, and a server could then not bind it.
ta_free_port() {
	local p low=32768
	[ -r /proc/sys/net/ipv4/ip_local_port_range ] &&
		read -r low _ </proc/sys/net/ipv4/ip_local_port_range
	[ "$low" -gt 12000 ] || low=32768
	while :; do
		p=$((10000 + RANDOM % (low - 10000)))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
	done
}

# ta_start_instance DIR: initdb in DIR/data, start it on a free port with
# its socket in DIR; exports PGHOST, PGPORT, PGUSER, PGDATABASE.  A port
# taken between the check and the server's bind (by another program) costs
# a retry on another port, not the test (the last port line is the one
# the server reads).
ta_start_instance() {
	local dir=$1 port attempt
	ta_as_pg "$TA_BINDIR/initdb" -D "$dir/data" -A trust -U postgres --no-sync \
		--encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; return 1; }
	cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
fsync = on
max_worker_processes = 16
log_min_messages = warning
CONF
	[ -n "${TA_EXTRA_CONF:-}" ] && echo "$TA_EXTRA_CONF" >>"$dir/data/postgresql.conf"
	for attempt in 1 2 3 4 5; do
		port=$(ta_free_port)
		echo "port = $port" >>"$dir/data/postgresql.conf"
		ta_as_pg "$TA_BINDIR/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null && break
		grep -q 'Address already in use' "$dir/server.log" && [ "$attempt" -lt 5 ] ||
			{ cat "$dir/server.log" >&2; return 1; }
	done
	export PGHOST=$dir PGPORT=$port PGUSER=postgres PGDATABASE=postgres
}

# Stop the server of DIR (started by ta_start_instance) at once.
ta_stop_instance() {
	[ -f "$1/data/postmaster.pid" ] &&
		ta_as_pg "$TA_BINDIR/pg_ctl" -D "$1/data" -m immediate -w stop >/dev/null 2>&1
	return 0
}

# Stop every server whose data directory lies under one of our scratch
# directories, then remove them: runs on exit, failure or interrupt.
ta_cleanup() {
	local d pidfile
	for d in "${TA_TMPDIRS[@]}"; do
		for pidfile in "$d"/*/postmaster.pid "$d"/*/*/postmaster.pid; do
			[ -f "$pidfile" ] || continue
			ta_as_pg "$TA_BINDIR/pg_ctl" -D "$(dirname "$pidfile")" -m immediate -w stop >/dev/null 2>&1 ||
				kill -9 "$(head -1 "$pidfile")" 2>/dev/null
		done
		[ -n "${TA_KEEP:-}" ] && { echo "kept $d" >&2; continue; }
		rm -rf "$d"
	done
	TA_TMPDIRS=()
}
