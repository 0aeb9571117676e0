#!/usr/bin/env bash
# A leadsvc cluster on this machine (`make cluster`): three nats-server
# processes clustered with JetStream and three `leadsvc serve` replicas on
# one PostgreSQL database, each on a free loopback port, the stream with
# 3 replicas. It prints their addresses and a demo account's tokens; Ctrl-C
# stops everything and removes what it made (NATS storage, logs, the
# database schema). deployments/cluster/README.md says more.
#
# LEADSVC_BIN (default bin/leadsvc), NATS_SERVER (default nats-server on
# PATH, else /usr/sbin/nats-server) and DATABASE_URL (default the leadsvc
# database of `make run`) may be set.
set -euo pipefail

BIN=${LEADSVC_BIN:-bin/leadsvc}
NATS_SERVER=${NATS_SERVER:-$(command -v nats-server || echo /usr/sbin/nats-server)}
DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/leadsvc?sslmode=disable}
base_url=$DATABASE_URL # psql's, without the search_path only leadsvc understands
SIZE=3

log() { printf 'cluster: %s\n' "$*" >&2; }

[ -x "$BIN" ] || { log "no leadsvc binary at $BIN (make build)"; exit 1; }
[ -x "$NATS_SERVER" ] || { log "no nats-server at $NATS_SERVER"; exit 1; }
command -v psql >/dev/null || { log "psql is needed to make the cluster's schema"; exit 1; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/leadsvc-cluster.XXXXXX")
# A schema of its own: the secret key below is new, and a key refuses to
# start on secrets sealed by another.
schema="cluster_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
pids=()

stop() {
	trap - EXIT INT TERM
	log "stopping"
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	psql "$base_url" -qc "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
	rm -rf "$dir"
}
trap stop EXIT
trap 'exit 130' INT TERM
# Every process runs in a session of its own (setsid), so Ctrl-C reaches
# this script alone, which stops them in order.

# free_port prints a loopback port nothing listens on and no earlier call
# handed out.
used=" "
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 40000))
		case $used in *" $p "*) continue ;; esac
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			used+="$p "
			echo "$p"
			return
		fi
	done
}

wait_port() {
	for _ in $(seq 1 600); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	log "nothing answers on 127.0.0.1:$1; logs in $dir"
	exit 1
}

client_ports=() routes=()
for i in $(seq 1 $SIZE); do
	client_ports+=("$(free_port)")
	routes+=("nats://127.0.0.1:$(free_port)")
done
route_list=$(IFS=,; echo "${routes[*]}")
nats_urls=()
for i in $(seq 1 $SIZE); do
	port=${client_ports[$((i - 1))]}
	mkdir -p "$dir/n$i"
	# The flags of the tests' cluster (harness_test.go). JetStream's
	# sync_interval (deployments/nats/) is left out: nats-server 2.9
	# rejects it.
	setsid "$NATS_SERVER" -a 127.0.0.1 -p "$port" -n "n$i" -js -sd "$dir/n$i" \
		--cluster_name leadsvc --cluster "${routes[$((i - 1))]}" --routes "$route_list" --no_advertise=true \
		>"$dir/nats-n$i.log" 2>&1 &
	pids+=($!)
	nats_urls+=("nats://127.0.0.1:$port")
done
for port in "${client_ports[@]}"; do wait_port "$port"; done

case $DATABASE_URL in *\?*) sep='&' ;; *) sep='?' ;; esac
psql "$base_url" -qc "CREATE SCHEMA $schema" >/dev/null
export DATABASE_URL="$DATABASE_URL${sep}search_path=$schema"
export NATS_URL
NATS_URL=$(IFS=,; echo "${nats_urls[*]}")
export LEADSVC_STREAM_REPLICAS=$SIZE
export LEADSVC_SECRET_KEY
LEADSVC_SECRET_KEY=$(head -c 32 /dev/urandom | base64)
export LEADSVC_LOG_FORMAT=json
# Nothing balances load here, so nothing needs the time to notice a drain.
export LEADSVC_SHUTDOWN_DELAY=0

"$BIN" migrate 2>"$dir/migrate.log" || { cat "$dir/migrate.log" >&2; exit 1; }

http_ports=()
for i in $(seq 1 $SIZE); do
	port=$(free_port)
	http_ports+=("$port")
	mkdir -p "$dir/leadsvc-$i"
	LEADSVC_ADDR="127.0.0.1:$port" LEADSVC_DATA_DIR="$dir/leadsvc-$i" LEADSVC_PUBLIC_URL="http://127.0.0.1:$port" \
		setsid "$BIN" serve >"$dir/leadsvc-$i.log" 2>&1 &
	pids+=($!)
done
for port in "${http_ports[@]}"; do wait_port "$port"; done

LEADSVC_DATA_DIR="$dir/leadsvc-1" LEADSVC_PUBLIC_URL="http://127.0.0.1:${http_ports[0]}" "$BIN" demo

echo "NATS (JetStream cluster \"leadsvc\", stream replicas $SIZE): $NATS_URL"
for i in $(seq 1 $SIZE); do
	echo "leadsvc-$i: http://127.0.0.1:${http_ports[$((i - 1))]}  (log: $dir/leadsvc-$i.log)"
done
echo "database schema: $schema; every replica has the one LEADSVC_SECRET_KEY of this run"
echo "Ctrl-C stops the cluster."
wait -n "${pids[@]}" || true
log "a process ended on its own; the end of each log:"
for f in "$dir"/*.log; do printf '== %s\n' "$f" >&2; tail -n 5 "$f" >&2; done
exit 1
