#!/usr/bin/env bash
# Makes PostgreSQL (and a NATS server with JetStream, for NATS_URL users)
# ready on this machine or a fresh Debian one, with Chromium for the
# browser tests and Node.js and Python for checking the docs' code
# samples: installs them with apt-get when
# missing, starts them when stopped, and creates the leadsvc databases.
# Idempotent; used by `make run` and `make test`.
set -euo pipefail

PGHOST_ADDR=127.0.0.1
PGPORT_NUM=5432
DATABASES=(leadsvc leadsvc_test)

log() { printf 'stack: %s\n' "$*" >&2; }

as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=""
apt_install() {
	if [ -z "$apt_updated" ]; then
		log "apt-get update"
		as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
		apt_updated=1
	fi
	log "installing $*"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

pg_ready() { pg_isready -q -h "$PGHOST_ADDR" -p "$PGPORT_NUM" 2>/dev/null; }

ensure_postgres() {
	if ! command -v pg_ctlcluster >/dev/null 2>&1; then
		apt_install postgresql postgresql-contrib
		# A fresh cluster asks for passwords on TCP; a local development stack
		# trusts loopback, as this project's scripts and tests expect.
		local hba
		hba=$(ls /etc/postgresql/*/main/pg_hba.conf | head -n 1)
		as_root sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
	fi
	if ! pg_ready; then
		local version
		version=$(ls /etc/postgresql | sort -V | tail -n 1)
		log "starting PostgreSQL $version"
		as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
		# A reload picks up a pg_hba.conf edited above when the cluster was already up.
		as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload >/dev/null 2>&1 || true
	fi
	for _ in $(seq 1 60); do pg_ready && break; sleep 0.5; done
	pg_ready || { log "PostgreSQL is not accepting connections on $PGHOST_ADDR:$PGPORT_NUM"; exit 1; }
	for db in "${DATABASES[@]}"; do
		if ! psql -h "$PGHOST_ADDR" -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
			log "creating database $db"
			psql -h "$PGHOST_ADDR" -U postgres -d postgres -qc "CREATE DATABASE $db" || true
		fi
	done
}

nats_ready() { (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null; }

ensure_nats() {
	if ! command -v nats-server >/dev/null 2>&1 && [ ! -x /usr/sbin/nats-server ]; then
		apt_install nats-server
	fi
	if ! nats_ready; then
		log "starting nats-server with JetStream on 127.0.0.1:4222"
		as_root mkdir -p /var/lib/nats-server
		as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
			-a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
		for _ in $(seq 1 40); do nats_ready && break; sleep 0.25; done
	fi
	nats_ready || log "warning: NATS is not listening on 127.0.0.1:4222 (leadsvc falls back to its embedded server when NATS_URL is unset)"
}

# Headless Chromium renders the public API docs page in the browser test.
ensure_chromium() {
	if [ ! -x /usr/bin/chromium ]; then
		apt_install chromium
	fi
}

# The partner docs' code samples are parsed by Node.js and Python in the tests.
ensure_sample_checkers() {
	if ! command -v node >/dev/null 2>&1; then
		apt_install nodejs
	fi
	if ! command -v python3 >/dev/null 2>&1; then
		apt_install python3
	fi
}

ensure_postgres
ensure_nats
ensure_chromium
ensure_sample_checkers
log "PostgreSQL ready on $PGHOST_ADDR:$PGPORT_NUM (databases: ${DATABASES[*]})"
