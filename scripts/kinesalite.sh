#!/usr/bin/env bash
# kinesalite.sh runs kinesalite (an in-memory implementation of the Kinesis
# API on Node.js, from npm) for tests and CI.
#
#   scripts/kinesalite.sh fetch        install kinesalite into the cache
#                                      (~/.cache/hoodie/kinesalite/VERSION) if
#                                      needed, print the install directory
#   scripts/kinesalite.sh start <dir>  start it in the background on a free
#                                      127.0.0.1 port, wait until it answers,
#                                      print the endpoint URL
#   scripts/kinesalite.sh stop <dir>   stop it and remove its state
#   scripts/kinesalite.sh run <dir>    exec it in the foreground (used by Go
#                                      tests, which own the process); it
#                                      writes <dir>/endpoint once listening
#
# <dir>/endpoint holds the endpoint URL (http://127.0.0.1:PORT) once the
# server listens; <dir>/pid the server's process id (start only).
#
# The store is kinesalite's in-memory one (no --path), so the optional
# native leveldown module is neither needed nor built. Stream state changes
# (CREATING -> ACTIVE, resharding's UPDATING) take KINESALITE_STREAM_MS
# milliseconds (default 10; kinesalite's own default is 500). The open
# shards of all streams together may number KINESALITE_SHARD_LIMIT (default
# 10000; kinesalite's own default, like a new AWS account's, is 10). When
# KINESALITE_WATCH_PID is set, the server exits by itself once that process
# is gone, so a test binary killed before its cleanup leaves nothing behind.
#
# Typical shell use:
#   ep=$(scripts/kinesalite.sh start /tmp/kinesalite)
#   hoodie stream --kinesis-stream events --kinesis-endpoint "$ep" ...
#   scripts/kinesalite.sh stop /tmp/kinesalite
set -euo pipefail

KINESALITE_VERSION=3.3.3
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/hoodie/kinesalite
INSTALL=$CACHE/$KINESALITE_VERSION
STREAM_MS=${KINESALITE_STREAM_MS:-10}
SHARD_LIMIT=${KINESALITE_SHARD_LIMIT:-10000}

die() { echo "kinesalite: $*" >&2; exit 1; }

cmd_fetch() {
	command -v node >/dev/null 2>&1 || die "node is not installed (apt-get install nodejs npm)"
	if [ -f "$INSTALL/.complete" ]; then
		echo "$INSTALL"
		return
	fi
	command -v npm >/dev/null 2>&1 || die "npm is not installed (apt-get install npm)"
	mkdir -p "$CACHE"
	# One install at a time (test binaries start kinesalite in parallel).
	if command -v flock >/dev/null 2>&1; then
		exec 9>"$CACHE/.lock"
		flock 9
		if [ -f "$INSTALL/.complete" ]; then
			echo "$INSTALL"
			return
		fi
	fi
	echo "kinesalite: installing kinesalite $KINESALITE_VERSION with npm into $INSTALL" >&2
	local tmp
	tmp=$(mktemp -d "$CACHE/.fetch.XXXXXX")
	# leveldown is an optional native dependency used only with --path;
	# the in-memory store (memdown) needs no build step, so skip both.
	if ! npm install --prefix "$tmp" --no-audit --no-fund --no-save --omit=optional --ignore-scripts \
		"kinesalite@$KINESALITE_VERSION" >&2; then
		rm -rf "$tmp"
		die "npm install kinesalite@$KINESALITE_VERSION failed"
	fi
	if ! grep -q "\"version\": \"$KINESALITE_VERSION\"" "$tmp/node_modules/kinesalite/package.json" 2>/dev/null; then
		rm -rf "$tmp"
		die "kinesalite $KINESALITE_VERSION not found after npm install"
	fi
	rm -rf "$INSTALL"
	mv "$tmp" "$INSTALL"
	touch "$INSTALL/.complete"
	echo "$INSTALL"
}

# The server: kinesalite bound to 127.0.0.1 on a port the kernel picks,
# announcing its endpoint in a file once it listens (kinesalite's own CLI
# listens on every interface).
# shellcheck disable=SC2016
SERVER_JS='
var dir = process.env.KINESALITE_STATE, fs = require("fs"), ms = +process.env.KINESALITE_STREAM_MS
var server = require(process.env.KINESALITE_MODULE)({createStreamMs: ms, deleteStreamMs: ms, updateStreamMs: ms,
  shardLimit: +process.env.KINESALITE_SHARD_LIMIT})
server.on("error", function(err) { console.error("kinesalite: " + err); process.exit(1) })
server.listen(0, "127.0.0.1", function() {
  var url = "http://127.0.0.1:" + server.address().port
  fs.writeFileSync(dir + "/endpoint.tmp", url + "\n")
  fs.renameSync(dir + "/endpoint.tmp", dir + "/endpoint")
  console.log("kinesalite listening at " + url)
})
var watch = +(process.env.KINESALITE_WATCH_PID || 0)
if (watch > 0) {
  setInterval(function() {
    try { process.kill(watch, 0) } catch (e) { if (e.code !== "EPERM") process.exit(0) }
  }, 500).unref()
}
// kinesalite rethrows a request stream error ("aborted", ECONNRESET: a client
// gave up mid-request, as a cancelled Go context does) from a listener,
// which would end the process; such an error concerns that request alone.
process.on("uncaughtException", function(err) {
  if (err && (err.code === "ECONNRESET" || err.message === "aborted")) return
  console.error(err && err.stack || err)
  process.exit(1)
})
function quit() { process.exit(0) }
process.on("SIGTERM", quit)
process.on("SIGINT", quit)
'

prepare() { # dir
	mkdir -p "$1"
	rm -f "$1/endpoint" "$1/endpoint.tmp" "$1/pid"
	export KINESALITE_STATE=$1 KINESALITE_STREAM_MS=$STREAM_MS KINESALITE_SHARD_LIMIT=$SHARD_LIMIT
	KINESALITE_MODULE="$(cmd_fetch)/node_modules/kinesalite"
	export KINESALITE_MODULE
}

# answers reports whether anything speaks HTTP on the endpoint (any status).
answers() {
	if command -v curl >/dev/null 2>&1; then
		local code
		code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$1/" 2>/dev/null || true)
		[ -n "$code" ] && [ "$code" != "000" ]
	else
		local hostport=${1#http://}
		(exec 3<>"/dev/tcp/${hostport%:*}/${hostport##*:}") 2>/dev/null
	fi
}

cmd_run() {
	prepare "$1"
	exec node -e "$SERVER_JS"
}

cmd_start() {
	local dir=$1 pid i ep
	if [ -f "$dir/pid" ]; then
		pid=$(cat "$dir/pid")
		if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
			die "already running in $dir (pid $pid)"
		fi
	fi
	prepare "$dir"
	setsid node -e "$SERVER_JS" >"$dir/server.log" 2>&1 </dev/null &
	pid=$!
	echo "$pid" >"$dir/pid"
	for i in $(seq 1 200); do # 20 s
		kill -0 "$pid" 2>/dev/null || break
		if [ -f "$dir/endpoint" ]; then
			ep=$(cat "$dir/endpoint")
			if answers "$ep"; then
				echo "$ep"
				return
			fi
		fi
		sleep 0.1
	done
	kill "$pid" 2>/dev/null || true
	tail -n 20 "$dir/server.log" >&2 || true
	die "kinesalite did not start"
}

cmd_stop() {
	local dir=$1 pid i
	[ -f "$dir/pid" ] || die "no server state in $dir"
	pid=$(cat "$dir/pid")
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill "$pid"
		for i in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null || true
	fi
	rm -f "$dir/pid" "$dir/endpoint" "$dir/endpoint.tmp" "$dir/server.log"
}

case "${1:-}" in
fetch) cmd_fetch ;;
start) [ $# -eq 2 ] || die "usage: $0 start <dir>"; cmd_start "$2" ;;
stop) [ $# -eq 2 ] || die "usage: $0 stop <dir>"; cmd_stop "$2" ;;
run) [ $# -eq 2 ] || die "usage: $0 run <dir>"; cmd_run "$2" ;;
*) die "usage: $0 fetch | start|stop|run <dir>" ;;
esac
