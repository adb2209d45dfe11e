#!/usr/bin/env bash
# Real Debian mail servers for check-smtp's integration tests.
#
#   integration/servers.sh start [STATEDIR]   install what is missing, start the servers
#   integration/servers.sh stop  STATEDIR     stop every process started by "start", by PID
#   integration/servers.sh install            only install the Debian packages
#
# Everything lives in STATEDIR (default: a new directory from mktemp): a CA and
# leaf certificates made with openssl, a config directory per server, logs,
# pidfiles (pids/*.pid) and STATEDIR/env, a KEY=VALUE file the Go tests read.
# Only loopback addresses (127.0.0.1 and, when the kernel has it, ::1) and high
# ports are used; the machine's own /etc mail configuration is never read for
# writing nor changed, and no system service is started.
#
# Ports: PORT_BASE (env CHECK_SMTP_IT_PORT_BASE; default 25500, or the next free
# of 26500, 27500, ... when something listens there) plus
#   +0  chasquid SMTP (STARTTLS)          +1  chasquid submission (STARTTLS, AUTH)
#   +2  chasquid submission over TLS      +10 postfix SMTP (STARTTLS, relay denied)
#   +11 postfix submission (STARTTLS, AUTH through Dovecot SASL)
#   +12 postfix SMTPS (implicit TLS, AUTH through Dovecot SASL)
#   +13 postfix SMTP whose certificate expires in 20 days
#   +14 postfix SMTP with a certificate from an unknown CA
#   +20 dovecot LMTP over TCP             +99 nothing listens there (closed port)
#   unix socket STATEDIR/lmtp.sock: dovecot LMTP
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
action=${1:-}
STATE=${2:-${CHECK_SMTP_IT_STATE:-}}
PORT_BASE=${CHECK_SMTP_IT_PORT_BASE:-25500}

# The test account (chasquid and dovecot). The password has characters that
# show up in base64 and URL forms differently, for the redaction tests.
IT_USER=tester@localhost
IT_PASS='Sup3r-s3cret_pa55w0rd'

log() { printf 'servers.sh: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

need_root() { [ "$(id -u)" = 0 ] || die "must run as root (it installs packages and starts daemons that drop privileges)"; }

# ---------------------------------------------------------------- install
install_packages() {
	local missing=()
	[ -x /usr/bin/chasquid ] && [ -x /usr/bin/chasquid-util ] || missing+=(chasquid)
	[ -x /usr/sbin/postfix ] && [ -x /usr/lib/postfix/sbin/master ] || missing+=(postfix)
	[ -x /usr/sbin/dovecot ] || missing+=(dovecot-core)
	[ -x /usr/lib/dovecot/lmtp ] || missing+=(dovecot-lmtpd)
	[ -x /usr/sbin/nagios4 ] || missing+=(nagios4-core)
	[ -x /usr/sbin/icinga2 ] && [ -d /usr/share/icinga2/include ] || missing+=(icinga2-bin icinga2-common)
	command -v promtool >/dev/null || missing+=(prometheus)
	[ -x /usr/bin/prometheus-node-exporter ] || missing+=(prometheus-node-exporter)
	command -v openssl >/dev/null || missing+=(openssl)
	command -v setsid >/dev/null || missing+=(util-linux)
	command -v ss >/dev/null || missing+=(iproute2)
	# The DNS, DNSSEC, HTTPS and port-25 MX infrastructure of dns.sh.
	read -ra dns_missing <<<"$(bash "$here/dns.sh" missing-packages)"
	missing+=("${dns_missing[@]}")
	[ ${#missing[@]} -eq 0 ] && return 0
	need_root
	log "installing: ${missing[*]}"
	local made_policy=0
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		# Keep package scripts from starting system services on port 25 and friends.
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		made_policy=1
	fi
	local rc=0
	{
		export DEBIAN_FRONTEND=noninteractive
		# postfix asks how it should be configured: leave the system's config alone.
		echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections 2>/dev/null || true
		apt-get -q -o DPkg::Lock::Timeout=300 update &&
			apt-get -q -y -o DPkg::Lock::Timeout=300 install --no-install-recommends "${missing[@]}"
	} >&2 || rc=$?
	if [ "$made_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
	[ "$rc" = 0 ] || die "apt-get install ${missing[*]} failed (exit $rc)"
}

# ---------------------------------------------------------------- helpers
port_busy() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

have_ipv6() {
	[ "$(cat /proc/sys/net/ipv6/conf/lo/disable_ipv6 2>/dev/null || echo 1)" = 0 ] &&
		ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/128'
}

# wait_tcp PORT SECONDS: until 127.0.0.1:PORT accepts a connection.
wait_tcp() {
	local port=$1 deadline=$((SECONDS + $2))
	while [ $SECONDS -lt $deadline ]; do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
		sleep 0.2
	done
	return 1
}

wait_sock() {
	local path=$1 deadline=$((SECONDS + $2))
	while [ $SECONDS -lt $deadline ]; do
		[ -S "$path" ] && return 0
		sleep 0.2
	done
	return 1
}

# launch NAME LOGFILE CMD...: start CMD in its own session (so its process
# group id is its PID and every child it forks can be stopped with it), record
# the PID in pids/NAME.pid.
launch() {
	local name=$1 logfile=$2
	shift 2
	setsid "$@" </dev/null >>"$logfile" 2>&1 &
	local pid=$!
	echo "$pid" >"$STATE/pids/$name.pid"
	log "started $name (pid $pid): $*"
}

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

envline() { printf '%s=%s\n' "$1" "$2" >>"$STATE/env"; }

# ---------------------------------------------------------------- certificates
make_certs() {
	local d=$STATE/tls
	mkdir -p "$d"
	(
		cd "$d"
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-keyout ca.key -out ca.pem -days 3650 -subj "/CN=check-smtp integration test CA" \
			-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
		# A second CA that nobody trusts, for the "unknown authority" case.
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-keyout other-ca.key -out other-ca.pem -days 3650 -subj "/CN=check-smtp untrusted CA" \
			-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
		cat >leaf.ext <<-'EOF'
			basicConstraints=CA:FALSE
			keyUsage=critical,digitalSignature,keyEncipherment
			extendedKeyUsage=serverAuth
			subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
		EOF
		# name CA DAYS
		leaf() {
			openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
				-keyout "$1.key" -out "$1.csr" -subj "/CN=localhost"
			openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial \
				-days "$3" -extfile leaf.ext -out "$1.pem"
			cat "$1.pem" "$2.pem" >"$1.fullchain.pem"
		}
		leaf server ca 825
		leaf soon ca 20
		leaf stranger other-ca 825
		chmod 644 ./*.pem
		chmod 640 ./*.key
		chgrp postfix ./*.key 2>/dev/null || true
	) >"$STATE/logs/openssl.log" 2>&1 || die "openssl failed: $(cat "$STATE/logs/openssl.log")"
}

# ---------------------------------------------------------------- chasquid
start_chasquid() {
	local d=$STATE/chasquid
	mkdir -p "$d/certs/localhost" "$d/domains/localhost" "$d/data"
	cp "$STATE/tls/server.fullchain.pem" "$d/certs/localhost/fullchain.pem"
	cp "$STATE/tls/server.key" "$d/certs/localhost/privkey.pem"
	local addrs=(127.0.0.1)
	[ "$IPV6" = 1 ] && addrs+=("[::1]")
	{
		echo 'hostname: "localhost"'
		echo "data_dir: \"$d/data\""
		echo "mail_log_path: \"$d/mail.log\""
		echo 'mail_delivery_agent_bin: "/bin/true"'
		for a in "${addrs[@]}"; do
			echo "smtp_address: \"$a:$((PORT_BASE + 0))\""
			echo "submission_address: \"$a:$((PORT_BASE + 1))\""
			echo "submission_over_tls_address: \"$a:$((PORT_BASE + 2))\""
		done
	} >"$d/chasquid.conf"
	echo "postmaster: tester@localhost" >"$d/domains/localhost/aliases"
	chasquid-util -C="$d" user-add "$IT_USER" --password="$IT_PASS" >"$STATE/logs/chasquid-util.log" 2>&1 ||
		{ log "chasquid-util user-add failed: $(cat "$STATE/logs/chasquid-util.log")"; return 1; }
	launch chasquid "$STATE/logs/chasquid.log" /usr/bin/chasquid -config_dir "$d" -alsologtostderr -v 1
}

# ---------------------------------------------------------------- dovecot
start_dovecot() {
	local d=$STATE/dovecot
	mkdir -p "$d/run" "$d/state" "$d/mail"
	chmod 755 "$d" "$d/run"
	# passwd-file: user:password:uid:gid:gecos:home:shell
	printf '%s:{PLAIN}%s:65534:65534::%s::\n' "$IT_USER" "$IT_PASS" "$d/mail/tester" >"$d/users"
	printf '%s:{PLAIN}%s:65534:65534::%s::\n' "postmaster@localhost" "not-used-$RANDOM$RANDOM" "$d/mail/postmaster" >>"$d/users"
	chown root:dovecot "$d/users"
	chmod 640 "$d/users"
	chown 65534:65534 "$d/mail"
	local listen="127.0.0.1"
	[ "$IPV6" = 1 ] && listen="127.0.0.1 ::1"
	cat >"$d/dovecot.conf" <<-EOF
		# check-smtp integration tests: LMTP plus the SASL server postfix uses.
		instance_name = check-smtp-it-$PORT_BASE
		base_dir = $d/run
		state_dir = $d/state
		log_path = $STATE/logs/dovecot.log
		protocols = lmtp
		listen = $listen
		ssl = no
		disable_plaintext_auth = no
		auth_mechanisms = plain login
		# Tests fail logins on purpose: no extra 2s delay after each failure.
		auth_failure_delay = 0
		first_valid_uid = 1
		postmaster_address = postmaster@localhost
		hostname = localhost
		mail_location = maildir:$d/mail/%n
		passdb {
		  driver = passwd-file
		  args = $d/users
		}
		userdb {
		  driver = passwd-file
		  args = $d/users
		}
		service lmtp {
		  inet_listener lmtp {
		    address = $listen
		    port = $((PORT_BASE + 20))
		  }
		  unix_listener $STATE/lmtp.sock {
		    mode = 0666
		  }
		}
		service auth {
		  unix_listener $STATE/sasl-auth {
		    mode = 0666
		  }
		}
	EOF
	launch dovecot "$STATE/logs/dovecot.stderr.log" /usr/sbin/dovecot -F -c "$d/dovecot.conf"
}

# ---------------------------------------------------------------- postfix
start_postfix() {
	local d=$STATE/postfix
	local etc=$d/etc spool=$d/spool
	mkdir -p "$etc" "$spool" "$d/data"
	chown postfix "$d/data"
	local tls=$STATE/tls
	local inet_interfaces="127.0.0.1" inet_protocols=ipv4
	[ "$IPV6" = 1 ] && inet_interfaces="127.0.0.1, [::1]" && inet_protocols=all
	cat >"$etc/main.cf" <<-EOF
		# check-smtp integration tests. Never the system's /etc/postfix.
		compatibility_level = 3.6
		queue_directory = $spool
		data_directory = $d/data
		mail_owner = postfix
		setgid_group = postdrop
		myhostname = localhost
		mydomain = localdomain
		myorigin = localhost
		mydestination = localhost
		inet_interfaces = $inet_interfaces
		inet_protocols = $inet_protocols
		# 127.0.0.1 is NOT trusted: an unauthenticated client may not relay.
		mynetworks =
		smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
		alias_maps =
		alias_database =
		local_recipient_maps = inline:{ postmaster=ok, tester=ok }
		smtpd_banner = \$myhostname ESMTP Postfix (check-smtp integration)
		maillog_file_prefixes = $STATE
		maillog_file = $STATE/logs/postfix.log
		biff = no
		smtputf8_enable = no
		smtpd_tls_cert_file = $tls/server.fullchain.pem
		smtpd_tls_key_file = $tls/server.key
		smtpd_tls_security_level = may
		smtpd_tls_loglevel = 1
		smtpd_sasl_type = dovecot
		smtpd_sasl_path = $STATE/sasl-auth
		smtpd_sasl_auth_enable = no
		smtpd_sasl_security_options = noanonymous
		smtpd_tls_auth_only = yes
		disable_vrfy_command = yes
	EOF
	local auth="-o smtpd_sasl_auth_enable=yes"
	cat >"$etc/master.cf" <<-EOF
		$((PORT_BASE + 10)) inet n - n - - smtpd
		$((PORT_BASE + 11)) inet n - n - - smtpd -o syslog_name=postfix/submission -o smtpd_tls_security_level=encrypt $auth
		$((PORT_BASE + 12)) inet n - n - - smtpd -o syslog_name=postfix/smtps -o smtpd_tls_wrappermode=yes $auth
		$((PORT_BASE + 13)) inet n - n - - smtpd -o syslog_name=postfix/soon -o smtpd_tls_cert_file=$tls/soon.fullchain.pem -o smtpd_tls_key_file=$tls/soon.key
		$((PORT_BASE + 14)) inet n - n - - smtpd -o syslog_name=postfix/stranger -o smtpd_tls_cert_file=$tls/stranger.fullchain.pem -o smtpd_tls_key_file=$tls/stranger.key
		cleanup   unix  n       -       n       -       0       cleanup
		qmgr      unix  n       -       n       300     1       qmgr
		tlsmgr    unix  -       -       n       1000?   1       tlsmgr
		rewrite   unix  -       -       n       -       -       trivial-rewrite
		bounce    unix  -       -       n       -       0       bounce
		defer     unix  -       -       n       -       0       bounce
		trace     unix  -       -       n       -       0       bounce
		verify    unix  -       -       n       -       1       verify
		flush     unix  n       -       n       1000?   0       flush
		proxymap  unix  -       -       n       -       -       proxymap
		proxywrite unix -       -       n       -       1       proxymap
		smtp      unix  -       -       n       -       -       smtp
		relay     unix  -       -       n       -       -       smtp
		showq     unix  n       -       n       -       -       showq
		error     unix  -       -       n       -       -       error
		retry     unix  -       -       n       -       -       error
		discard   unix  -       -       n       -       -       discard
		local     unix  -       n       n       -       -       local
		virtual   unix  -       n       n       -       -       virtual
		lmtp      unix  -       -       n       -       -       lmtp
		anvil     unix  -       -       n       -       1       anvil
		scache    unix  -       -       n       -       1       scache
		postlog   unix-dgram n  -       n       -       1       postlogd
	EOF
	# Create the queue directories with postfix's own ownership rules.
	/usr/sbin/postfix -c "$etc" check >"$STATE/logs/postfix-check.log" 2>&1 ||
		{ log "postfix check failed: $(cat "$STATE/logs/postfix-check.log")"; return 1; }
	launch postfix "$STATE/logs/postfix.stderr.log" /usr/lib/postfix/sbin/master -c "$etc" -s
}

# ---------------------------------------------------------------- start/stop
do_start() {
	need_root
	install_packages
	if [ -z "$STATE" ]; then
		STATE=$(mktemp -d /tmp/check-smtp-it.XXXXXX)
	fi
	mkdir -p "$STATE"
	STATE=$(cd "$STATE" && pwd)
	[ ! -d "$STATE/pids" ] || [ -z "$(ls -A "$STATE/pids")" ] || die "$STATE/pids is not empty: stop the servers first ($0 stop $STATE)"
	# The daemons drop privileges: their users must reach the state directory.
	chmod 755 "$STATE"
	mkdir -p "$STATE/pids" "$STATE/logs"
	: >"$STATE/env"
	IPV6=0
	if have_ipv6; then IPV6=1; fi

	# Another run (or anything else) on these ports: move on to the next
	# base unless the base was given explicitly.
	local p busy tries=0
	while :; do
		busy=()
		for p in 0 1 2 10 11 12 13 14 20 99; do
			if port_busy $((PORT_BASE + p)); then busy+=($((PORT_BASE + p))); fi
		done
		[ ${#busy[@]} -eq 0 ] && break
		tries=$((tries + 1))
		if [ -n "${CHECK_SMTP_IT_PORT_BASE:-}" ] || [ $tries -ge 8 ]; then
			die "ports already in use: ${busy[*]} (set CHECK_SMTP_IT_PORT_BASE to another base)"
		fi
		log "ports in use at base $PORT_BASE (${busy[*]}): trying base $((PORT_BASE + 1000))"
		PORT_BASE=$((PORT_BASE + 1000))
	done

	make_certs

	envline STATE "$STATE"
	envline PORT_BASE "$PORT_BASE"
	envline IPV6 "$IPV6"
	envline CA "$STATE/tls/ca.pem"
	envline SOON_DAYS 20
	envline USER "$IT_USER"
	envline PASS "$IT_PASS"
	envline CLOSED_PORT $((PORT_BASE + 99))
	envline CHASQUID_SMTP $((PORT_BASE + 0))
	envline CHASQUID_SUBMISSION $((PORT_BASE + 1))
	envline CHASQUID_SUBMISSIONS $((PORT_BASE + 2))
	envline POSTFIX_SMTP $((PORT_BASE + 10))
	envline POSTFIX_SUBMISSION $((PORT_BASE + 11))
	envline POSTFIX_SMTPS $((PORT_BASE + 12))
	envline POSTFIX_SOON $((PORT_BASE + 13))
	envline POSTFIX_STRANGER $((PORT_BASE + 14))
	envline LMTP_TCP $((PORT_BASE + 20))
	envline LMTP_SOCKET "$STATE/lmtp.sock"

	# Dovecot first: postfix's SASL goes through its auth socket.
	local ok_dovecot=0 ok_postfix=0 ok_chasquid=0
	if start_dovecot; then
		if wait_tcp $((PORT_BASE + 20)) 30 && wait_sock "$STATE/lmtp.sock" 10 && wait_sock "$STATE/sasl-auth" 10; then
			ok_dovecot=1
		else
			log "dovecot did not come up; log follows"
			cat "$STATE/logs/dovecot.log" "$STATE/logs/dovecot.stderr.log" >&2 2>/dev/null || true
		fi
	fi
	if start_postfix; then
		if wait_tcp $((PORT_BASE + 10)) 30 && wait_tcp $((PORT_BASE + 14)) 10; then
			ok_postfix=1
		else
			log "postfix did not come up; log follows"
			cat "$STATE/logs/postfix.log" "$STATE/logs/postfix.stderr.log" >&2 2>/dev/null || true
		fi
	fi
	if start_chasquid; then
		if wait_tcp $((PORT_BASE + 0)) 30 && wait_tcp $((PORT_BASE + 2)) 10; then
			ok_chasquid=1
		else
			log "chasquid did not come up; log follows"
			cat "$STATE/logs/chasquid.log" >&2 2>/dev/null || true
		fi
	fi
	# DNS, DNSSEC, HTTPS and port-25 MX hosts on 127.0.20.x (dns.sh; writes DNS_* and DNS_OK to env).
	bash "$here/dns.sh" start "$STATE" || log "dns.sh start failed: DNS tests skip, or fail with CHECK_SMTP_IT_REQUIRE=1"
	envline DOVECOT_OK $ok_dovecot
	envline POSTFIX_OK $ok_postfix
	envline CHASQUID_OK $ok_chasquid
	log "state directory: $STATE (env: $STATE/env)"
	log "dovecot=$ok_dovecot postfix=$ok_postfix chasquid=$ok_chasquid ipv6=$IPV6"
	cat "$STATE/env"
	echo "STATE=$STATE" >"$here/.last-state" 2>/dev/null || true
}

do_stop() {
	[ -n "$STATE" ] || { [ -f "$here/.last-state" ] && STATE=$(sed -n 's/^STATE=//p' "$here/.last-state"); } || true
	[ -n "$STATE" ] && [ -d "$STATE/pids" ] || { log "nothing to stop (no STATEDIR/pids)"; return 0; }
	if [ -f "$STATE/env" ] && grep -q '^PORT_BASE=' "$STATE/env"; then
		PORT_BASE=$(sed -n 's/^PORT_BASE=//p' "$STATE/env")
	fi
	local dns_stop=0
	bash "$here/dns.sh" stop "$STATE" || dns_stop=$?
	local f pid name pids=()
	for f in "$STATE"/pids/*.pid; do
		[ -e "$f" ] || continue
		pid=$(cat "$f")
		name=$(basename "$f" .pid)
		# Each server was started by setsid, so its process group id is its PID;
		# the group outlives a leader that died, and Linux does not hand out a
		# PID that is still some group's id, so this only reaches our processes.
		if alive "$pid" || pgrep -g "$pid" >/dev/null 2>&1; then
			log "stopping $name (pid $pid and its process group)"
			kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
			pids+=("$pid")
		fi
	done
	local deadline=$((SECONDS + 15)) left
	while :; do
		left=0
		for pid in "${pids[@]}"; do
			# A process group is gone when no process has it as its pgid.
			if pgrep -g "$pid" >/dev/null 2>&1; then left=1; fi
		done
		[ "$left" = 0 ] && break
		if [ $SECONDS -ge $deadline ]; then
			for pid in "${pids[@]}"; do
				log "process group $pid still alive after SIGTERM, sending SIGKILL"
				kill -KILL -- "-$pid" 2>/dev/null || true
			done
			sleep 0.5
			break
		fi
		sleep 0.2
	done
	rm -f "$STATE"/pids/*.pid
	# Nothing of ours may be left listening.
	local p still=()
	for p in 0 1 2 10 11 12 13 14 20; do
		if port_busy $((PORT_BASE + p)); then still+=($((PORT_BASE + p))); fi
	done
	[ ${#still[@]} -eq 0 ] || die "still listening after stop: ${still[*]}"
	[ "$dns_stop" = 0 ] || die "dns.sh stop failed"
	log "stopped; logs kept in $STATE/logs"
}

case "$action" in
start) do_start ;;
stop) do_stop ;;
install) need_root; install_packages ;;
*)
	echo "usage: $0 start|stop [STATEDIR] | install" >&2
	exit 2
	;;
esac
