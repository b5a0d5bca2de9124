#!/usr/bin/env bash
# kafka.sh fetches and runs the real Apache Kafka broker that hoodie's stream
# tests use: Kafka 4.x in KRaft mode, one node that is both broker and
# controller, on 127.0.0.1 with free ports. The server jars are resolved once
# with Maven into ~/.cache/hoodie/kafka/<version>/libs.
#
#   scripts/kafka.sh fetch          # resolve the jars (cached); prints the libs directory
#   scripts/kafka.sh start DIR      # format DIR, start the broker, wait until it
#                                   # accepts connections; prints HOST:PORT
#   scripts/kafka.sh stop DIR       # stop the broker started in DIR
#
# Needs Java 17 and Maven (mvn) on the first fetch. KAFKA_VERSION overrides
# the version, KAFKA_JVM_OPTS the broker's JVM options, KAFKA_START_TIMEOUT
# the seconds start waits (60). With KAFKA_WATCH_PID set, start also stops the broker when
# that process ends (a test binary that dies leaves no broker behind).
# DIR holds server.properties, the data, the broker's log (kafka.log), its
# pid (kafka.pid) and the bootstrap address (bootstrap).
#
# Besides the PLAINTEXT listener whose address start prints, the broker has
# two secured listeners on 127.0.0.1, for the tests of TLS and SASL:
#   - SASL_PLAINTEXT with the mechanisms PLAIN, SCRAM-SHA-256 and
#     SCRAM-SHA-512 and one user (SCRAM credentials written when the storage
#     is formatted); its address in DIR/sasl_addr, the user and its password
#     (random per start) in DIR/sasl_user and DIR/sasl_password;
#   - SSL with a certificate for 127.0.0.1 and localhost signed by a CA made
#     at start, client certificates requested (ssl.client.auth=requested);
#     its address in DIR/ssl_addr, the CA in DIR/tls/ca.pem and a client
#     certificate the broker trusts in DIR/tls/client.pem and
#     DIR/tls/client-key.pem (PEM files made with openssl);
#   - MTLS, the same as SSL but requiring a client certificate
#     (ssl.client.auth=required); its address in DIR/mtls_addr.
set -euo pipefail
KAFKA_VERSION=${KAFKA_VERSION:-4.1.2}
LOG4J_VERSION=2.24.3
case "$KAFKA_VERSION" in
*[!0-9.]* | "") echo "kafka.sh: bad Kafka version '$KAFKA_VERSION'" >&2; exit 2 ;;
esac
cache=${XDG_CACHE_HOME:-$HOME/.cache}/hoodie/kafka/$KAFKA_VERSION
libs=$cache/libs

usage() { echo "usage: kafka.sh fetch | start DIR | stop DIR" >&2; exit 2; }

fetch() {
	if [ -f "$libs/.complete" ]; then
		echo "$libs"
		return
	fi
	command -v java >/dev/null || { echo "kafka.sh: java not found (Kafka needs Java 17)" >&2; exit 1; }
	command -v mvn >/dev/null || { echo "kafka.sh: mvn not found (needed once to fetch Kafka $KAFKA_VERSION)" >&2; exit 1; }
	mkdir -p "$cache"
	# One fetch at a time (test binaries start brokers in parallel).
	exec 9>"$cache/.lock"
	flock 9
	if [ -f "$libs/.complete" ]; then
		echo "$libs"
		return
	fi
	local tmp
	tmp=$(mktemp -d "$cache/.fetch.XXXXXX")
	# shellcheck disable=SC2064
	trap "rm -rf '$tmp'" EXIT
	cat >"$tmp/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>hoodie.test</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-core</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
	(cd "$tmp" && mvn -B -q dependency:copy-dependencies -DincludeScope=runtime \
		-DoutputDirectory="$tmp/libs" -Dmdep.useBaseVersion=true) >&2
	ls "$tmp/libs"/kafka_2.13-"$KAFKA_VERSION".jar >/dev/null
	rm -rf "$libs"
	mv "$tmp/libs" "$libs"
	touch "$libs/.complete"
	echo "$libs"
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# A random Kafka cluster ID: 16 bytes, URL-safe base64 without padding.
cluster_id() {
	# Never one starting with "-": the storage tool would take it for an
	# option (Kafka's own Uuid.randomUuid draws again then too).
	python3 -c '
import base64, os
while True:
    s = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
    if not s.startswith("-"):
        print(s)
        break'
}

# The broker's JVM: by default a small heap, serial GC and C1 only, for a
# fast start on a small test machine; KAFKA_JVM_OPTS replaces these (a
# benchmark wants e.g. "-Xmx2g -XX:+UseG1GC").
jvm_opts() {
	local opts
	read -r -a opts <<<"${KAFKA_JVM_OPTS:--Xms128m -Xmx768m -XX:+UseSerialGC -XX:TieredStopAtLevel=1}"
	jvm=(java "${opts[@]}"
		-Djava.awt.headless=true
		-Dlog4j2.configurationFile="$dir/log4j2.properties"
		-Dkafka.logs.dir="$dir"
		-cp "$libs/*")
}

# running PID: the process exists and is not a zombie (an exited broker
# whose parent has not reaped it yet).
running() {
	kill -0 "$1" 2>/dev/null || return 1
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

alive() { [ -f "$dir/kafka.pid" ] && running "$(cat "$dir/kafka.pid")"; }

start() {
	fetch >/dev/null
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	if alive && [ -s "$dir/bootstrap" ]; then
		cat "$dir/bootstrap"
		return
	fi
	# A free port may be taken by another process before the broker binds
	# it: then start again on other ports.
	local attempt
	for attempt in 1 2 3; do
		if start_once; then
			return
		fi
		grep -q 'BindException\|Address already in use' "$dir/kafka.out" "$dir/kafka.log" 2>/dev/null || exit 1
		echo "kafka.sh: a port was taken (attempt $attempt); starting again" >&2
	done
	exit 1
}

# tls_material makes, in DIR/tls, a CA, the broker's certificate for
# 127.0.0.1 and localhost signed by it (server.pem: the PKCS#8 key and the
# chain, a PEM keystore) and a client certificate signed by it.
tls_material() {
	command -v openssl >/dev/null || { echo "kafka.sh: openssl not found (needed for the broker's TLS listener)" >&2; exit 1; }
	local t=$dir/tls
	rm -rf "$t"
	mkdir -p "$t"
	(
		set -e
		cd "$t"
		openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca-key.pem
		openssl req -x509 -new -key ca-key.pem -sha256 -days 30 -subj "/CN=hoodie test CA" \
			-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.pem
		local name ext
		for name in server client; do
			if [ "$name" = server ]; then
				ext="subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth"
			else
				ext="extendedKeyUsage=clientAuth"
			fi
			openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$name-key.pem"
			openssl req -new -key "$name-key.pem" -subj "/CN=hoodie test $name" -out "$name.csr"
			printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n%s\n' "$ext" >"$name.ext"
			openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca-key.pem -CAcreateserial -sha256 -days 30 \
				-extfile "$name.ext" -out "$name.pem"
		done
		cat server-key.pem server.pem ca.pem >server-keystore.pem
		rm -f ./*.csr ./*.ext ca.srl
	) >"$dir/tls.log" 2>&1 || { cat "$dir/tls.log" >&2; echo "kafka.sh: making the TLS material in $t failed" >&2; exit 1; }
}

# start_once starts the broker on five free ports (PLAINTEXT, controller,
# SASL_PLAINTEXT, SSL, MTLS); it fails when the broker exits while starting.
start_once() {
	local bport cport sport tport mport p
	local ports=()
	while [ ${#ports[@]} -lt 5 ]; do
		p=$(free_port)
		case " ${ports[*]} " in *" $p "*) continue ;; esac
		ports+=("$p")
	done
	bport=${ports[0]} cport=${ports[1]} sport=${ports[2]} tport=${ports[3]} mport=${ports[4]}
	local user=hoodie password
	password=$(python3 -c 'import secrets; print(secrets.token_hex(12))')
	tls_material
	cat >"$dir/log4j2.properties" <<EOF
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $dir/kafka.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.apache.name = org.apache.kafka
logger.apache.level = INFO
logger.state.name = state.change.logger
logger.state.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
EOF
	cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$bport,CONTROLLER://127.0.0.1:$cport,SASL_PLAINTEXT://127.0.0.1:$sport,SSL://127.0.0.1:$tport,MTLS://127.0.0.1:$mport
advertised.listeners=PLAINTEXT://127.0.0.1:$bport,SASL_PLAINTEXT://127.0.0.1:$sport,SSL://127.0.0.1:$tport,MTLS://127.0.0.1:$mport
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL,MTLS:SSL
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$user="$password";
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.ssl.ssl.keystore.type=PEM
listener.name.ssl.ssl.keystore.location=$dir/tls/server-keystore.pem
listener.name.ssl.ssl.truststore.type=PEM
listener.name.ssl.ssl.truststore.location=$dir/tls/ca.pem
listener.name.ssl.ssl.client.auth=requested
listener.name.mtls.ssl.keystore.type=PEM
listener.name.mtls.ssl.keystore.location=$dir/tls/server-keystore.pem
listener.name.mtls.ssl.truststore.type=PEM
listener.name.mtls.ssl.truststore.location=$dir/tls/ca.pem
listener.name.mtls.ssl.client.auth=required
log.dirs=$dir/data
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.flush.interval.messages=9223372036854775807
num.network.threads=2
num.io.threads=4
background.threads=4
EOF
	rm -rf "$dir/data" "$dir/kafka.log" "$dir/kafka.out" "$dir/sasl_addr" "$dir/ssl_addr" "$dir/mtls_addr"
	jvm_opts
	"${jvm[@]}" kafka.tools.StorageTool format -t "$(cluster_id)" -c "$dir/server.properties" \
		--add-scram "SCRAM-SHA-256=[name=$user,password=$password]" \
		--add-scram "SCRAM-SHA-512=[name=$user,password=$password]" \
		>"$dir/format.log" 2>&1 || { cat "$dir/format.log" >&2; echo "kafka.sh: formatting $dir failed" >&2; exit 1; }
	nohup "${jvm[@]}" kafka.Kafka "$dir/server.properties" \
		>"$dir/kafka.out" 2>&1 </dev/null &
	local pid=$!
	echo "$pid" >"$dir/kafka.pid"
	if [ -n "${KAFKA_WATCH_PID:-}" ]; then
		# Stops the broker when the watched process (a test binary) ends.
		nohup bash -c 'while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 1; done
			kill -0 "$1" 2>/dev/null && exit 0
			kill "$2" 2>/dev/null || exit 0
			sleep 5
			kill -0 "$2" 2>/dev/null && kill -9 "$2"' \
			kafka-watch "$KAFKA_WATCH_PID" "$pid" >/dev/null 2>&1 </dev/null &
	fi
	local deadline=$((SECONDS + ${KAFKA_START_TIMEOUT:-60}))
	until (exec 3<>"/dev/tcp/127.0.0.1/$bport") 2>/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$sport") 2>/dev/null &&
		(exec 3<>"/dev/tcp/127.0.0.1/$tport") 2>/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$mport") 2>/dev/null; do
		if ! running "$pid"; then
			tail -n 40 "$dir/kafka.out" "$dir/kafka.log" >&2 2>/dev/null || true
			echo "kafka.sh: the broker exited while starting (logs in $dir)" >&2
			rm -f "$dir/kafka.pid"
			return 1
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			kill -9 "$pid" 2>/dev/null || true
			tail -n 40 "$dir/kafka.log" >&2 2>/dev/null || true
			echo "kafka.sh: the broker did not accept connections within ${KAFKA_START_TIMEOUT:-60}s (logs in $dir)" >&2
			exit 1
		fi
		sleep 0.2
	done
	echo "127.0.0.1:$sport" >"$dir/sasl_addr"
	echo "127.0.0.1:$tport" >"$dir/ssl_addr"
	echo "127.0.0.1:$mport" >"$dir/mtls_addr"
	echo "$user" >"$dir/sasl_user"
	echo "$password" >"$dir/sasl_password"
	echo "127.0.0.1:$bport" >"$dir/bootstrap"
	echo "127.0.0.1:$bport"
}

stop() {
	[ -d "$dir" ] || return 0
	if alive; then
		local pid
		pid=$(cat "$dir/kafka.pid")
		kill "$pid" 2>/dev/null || true
		local deadline=$((SECONDS + 20))
		while running "$pid"; do
			if [ "$SECONDS" -ge "$deadline" ]; then
				kill -9 "$pid" 2>/dev/null || true
				break
			fi
			sleep 0.2
		done
	fi
	rm -f "$dir/kafka.pid" "$dir/bootstrap" "$dir/sasl_addr" "$dir/ssl_addr" "$dir/mtls_addr"
}

cmd=${1:-}
case "$cmd" in
fetch) fetch ;;
start | stop)
	[ $# -eq 2 ] || usage
	dir=$2
	"$cmd"
	;;
*) usage ;;
esac
