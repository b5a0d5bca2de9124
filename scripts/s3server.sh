#!/usr/bin/env bash
# s3server.sh runs a local S3-compatible server (versitygw, posix backend) for
# tests and CI.
#
#   scripts/s3server.sh start <statedir>  start in the background, wait until it
#                                         answers, write <statedir>/env, print it
#   scripts/s3server.sh stop <statedir>   stop it and remove its data
#   scripts/s3server.sh run <statedir>    write <statedir>/env, then exec the
#                                         server in the foreground (used by Go
#                                         tests, which own the process)
#   scripts/s3server.sh bin               print the versitygw binary path,
#                                         installing it if needed
#
# <statedir>/env is a sourceable file of exported variables:
#   HOODIE_S3_ENDPOINT    http://127.0.0.1:PORT
#   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION
#   AWS_ENDPOINT_URL_S3   same as HOODIE_S3_ENDPOINT, so AWS tooling and
#                         hoodie pick the server up without flags
#   HOODIE_S3_DATA        the server's data directory (<statedir>/data)
#   HOODIE_S3_PID         the server's process id (start only)
#
# Typical shell use:
#   scripts/s3server.sh start /tmp/s3 && . /tmp/s3/env
#   go test ./...   # internal/testutil/s3server reuses HOODIE_S3_ENDPOINT
#   scripts/s3server.sh stop /tmp/s3
#
# The credentials are throwaway test values; the server listens on 127.0.0.1 only.
set -euo pipefail

VERSITYGW_VERSION=v1.8.0
ACCESS_KEY=${HOODIE_S3_ACCESS_KEY:-hoodietest}
SECRET_KEY=${HOODIE_S3_SECRET_KEY:-hoodietestsecret}
REGION=us-east-1

die() { echo "s3server: $*" >&2; exit 1; }

find_bin() {
	if command -v versitygw >/dev/null 2>&1; then
		command -v versitygw
		return
	fi
	local gobin
	gobin=$(go env GOBIN 2>/dev/null || true)
	[ -n "$gobin" ] || gobin="$(go env GOPATH 2>/dev/null | cut -d: -f1)/bin"
	if [ -x "$gobin/versitygw" ]; then
		echo "$gobin/versitygw"
		return
	fi
	echo "s3server: installing versitygw $VERSITYGW_VERSION (go install, takes a minute or two)" >&2
	GOFLAGS=-mod=mod go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION" >&2 ||
		die "go install versitygw@$VERSITYGW_VERSION failed"
	[ -x "$gobin/versitygw" ] || die "versitygw not found in $gobin after install"
	echo "$gobin/versitygw"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pick_port() {
	local port i
	for i in $(seq 1 50); do
		port=$((20000 + RANDOM % 40000))
		if ! port_in_use "$port"; then
			echo "$port"
			return
		fi
	done
	die "no free port found"
}

# answers reports whether anything speaks HTTP on the endpoint (any status).
answers() {
	if command -v curl >/dev/null 2>&1; then
		local code
		code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$1/" 2>/dev/null || true)
		[ -n "$code" ] && [ "$code" != "000" ]
	else
		port_in_use "${1##*:}"
	fi
}

write_env() { # statedir port pid
	local endpoint="http://127.0.0.1:$2"
	{
		echo "export HOODIE_S3_ENDPOINT=$endpoint"
		echo "export AWS_ENDPOINT_URL_S3=$endpoint"
		echo "export AWS_ACCESS_KEY_ID=$ACCESS_KEY"
		echo "export AWS_SECRET_ACCESS_KEY=$SECRET_KEY"
		echo "export AWS_REGION=$REGION"
		echo "export HOODIE_S3_DATA=$1/data"
		[ -z "${3:-}" ] || echo "export HOODIE_S3_PID=$3"
	} >"$1/env.tmp"
	mv "$1/env.tmp" "$1/env"
}

prepare() { # statedir
	mkdir -p "$1/data"
	rm -f "$1/env"
}

cmd_run() {
	local dir=$1 bin port
	bin=$(find_bin)
	prepare "$dir"
	port=$(pick_port)
	write_env "$dir" "$port" "$$"
	exec "$bin" --port "127.0.0.1:$port" --access "$ACCESS_KEY" --secret "$SECRET_KEY" \
		--region "$REGION" --quiet posix "$dir/data"
}

cmd_start() {
	local dir=$1 bin port pid attempt i
	bin=$(find_bin)
	if [ -f "$dir/env" ]; then
		pid=$(sed -n 's/^export HOODIE_S3_PID=//p' "$dir/env")
		if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
			die "already running in $dir (pid $pid)"
		fi
	fi
	prepare "$dir"
	for attempt in 1 2 3; do
		port=$(pick_port)
		setsid "$bin" --port "127.0.0.1:$port" --access "$ACCESS_KEY" --secret "$SECRET_KEY" \
			--region "$REGION" --quiet posix "$dir/data" >"$dir/server.log" 2>&1 </dev/null &
		pid=$!
		for i in $(seq 1 100); do
			if ! kill -0 "$pid" 2>/dev/null; then
				break # died, most likely the port was taken meanwhile
			fi
			if answers "http://127.0.0.1:$port"; then
				write_env "$dir" "$port" "$pid"
				cat "$dir/env"
				return
			fi
			sleep 0.1
		done
		kill "$pid" 2>/dev/null || true
		echo "s3server: attempt $attempt failed:" >&2
		tail -n 20 "$dir/server.log" >&2 || true
	done
	die "versitygw did not start"
}

cmd_stop() {
	local dir=$1 pid i
	[ -f "$dir/env" ] || die "no server state in $dir"
	pid=$(sed -n 's/^export HOODIE_S3_PID=//p' "$dir/env")
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill "$pid"
		for i in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null || true
	fi
	rm -rf "$dir/data" "$dir/env" "$dir/server.log"
}

case "${1:-}" in
start) [ $# -eq 2 ] || die "usage: $0 start <statedir>"; cmd_start "$2" ;;
stop) [ $# -eq 2 ] || die "usage: $0 stop <statedir>"; cmd_stop "$2" ;;
run) [ $# -eq 2 ] || die "usage: $0 run <statedir>"; cmd_run "$2" ;;
bin) find_bin ;;
*) die "usage: $0 start|stop|run <statedir> | bin" ;;
esac
