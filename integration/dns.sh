#!/usr/bin/env bash
# Real DNS, DNSSEC, HTTPS and port-25 MX hosts for check-smtp's domain-mode
# (-M) and DANE integration tests. Called by servers.sh:
#
#   dns.sh start STATEDIR      after servers.sh made STATEDIR/tls/ca.{pem,key}
#   dns.sh stop STATEDIR       stop what "start" started (STATEDIR/pids/dns-*.pid)
#   dns.sh missing-packages    the Debian packages still to install (servers.sh install)
#
# Everything is on loopback addresses of 127.0.20.0/24, on the real ports (53,
# 443, 25), so "start" needs root; not root, it says so and starts nothing
# (exit 0; exit 1 with CHECK_SMTP_IT_REQUIRE=1). State, configs, keys, pid
# files and logs are in STATEDIR/dns and STATEDIR/logs/dns-*; nothing under
# /etc is read for writing or changed, no system service is started, and the
# resolver sends no packet off the machine (see testdata/dns/unbound.conf).
# The zones, configs and MTA-STS policies are templates in testdata/dns/,
# rendered at start time: certificates are made then (signed by servers.sh's
# test CA), TLSA data is computed from them, and the signed zones are signed
# then with ldns-keygen/ldns-signzone.
#
# Topology
#   address        port  what
#   127.0.20.53    53    nsd, authoritative for test. and every zone below
#   127.0.20.54    53    unbound, validating resolver (stubs to .53; trust anchors = DS of the signed zones)
#   127.0.20.80    443   nginx, https://mta-sts.<domain>/.well-known/mta-sts.txt chosen by SNI
#   127.0.20.11    25    Postfix  mx1.good.test
#   127.0.20.12    25    chasquid mx2.good.test (and 587, 465: chasquid needs some submission address)
#   127.0.20.13    25    Postfix  mx1.onedown.test
#   127.0.20.14    -     down: mx2.onedown.test, mx001-mx120.manymx.test
#   127.0.20.15/16 -     down: mx1/mx2.alldown.test
#   127.0.20.17    25    Postfix, no STARTTLS: mx.nostarttls.test, mx.dane-nostarttls.test
#   127.0.20.18    25    Postfix, certificate for mx.elsewhere.test: mx.wrongname.test, mx.dane-tawrong.test
#   127.0.20.19/20 25    Postfix  mx1/mx2.notcovered.test
#   127.0.20.21    25    Postfix  nomx.test (implicit MX)
#   127.0.20.31-39 25    Postfix  mx.dane-ok, -bad, -roll, -ta, -unusable, -none, -bogus, broken, -expired (.test)
# Every certificate is signed by STATEDIR/tls/ca.pem for the MX name (SAN),
# except .18 (mx.elsewhere.test) and .39 (expired in 2020).
#
#   domain (unsigned)      scenario
#   good.test              MX 10 mx1 (.11 Postfix), 20 mx2 (.12 chasquid); MTA-STS enforce "mx: *.good.test"; TLSRPT mailto
#   onedown.test           mx1 up (.13), mx2 down (.14); TLSRPT https
#   alldown.test           both MX down (.15, .16)
#   nostarttls.test        the MX offers no STARTTLS (.17); no policy
#   nostarttls-sts.test    MX mx.nostarttls.test under MTA-STS enforce
#   wrongname.test         MX .18 (certificate for another name) under MTA-STS enforce
#   wrongname-nosts.test   MX mx.wrongname.test, no policy
#   notcovered.test        mx1 (.19), mx2 (.20) up; enforce policy lists mx1 only (CRLF line ends)
#   sts-testing.test       MX mx.wrongname.test under a testing-mode policy
#   sts-none.test          policy mode none
#   sts-short.test         enforce, max_age 3600
#   sts-404.test           TXT, policy URL 404
#   sts-redirect.test      TXT, policy URL 301 to good.test's policy
#   sts-ctype.test         TXT, valid policy served as text/html
#   sts-big.test           TXT, enforce policy over 64 KiB
#   sts-badcert.test       TXT, the policy host presents a certificate for default.invalid
#   sts-twotxt.test        two v=STSv1 TXT records (the policy itself is valid)
#   tlsrpt-bad.test        malformed TLSRPT (rua without scheme)
#   tlsrpt-two.test        two TLSRPT records
#   nullmx.test            MX 0 .
#   nomx.test              no MX, A 127.0.20.21 (implicit MX)
#   cnamemx.test           MX names a CNAME (to mx1.good.test)
#   ipmx.test              MX names the IP literal 127.0.20.11.
#   manymx.test            120 MX records, all on the down .14 (answer over TCP)
#   bigtxt.test            _mta-sts TXT over 4 KiB (answer over TCP)
#   xn--bcher-kva.test     bücher.test, MX mx1.good.test
#   insecure-mx.test       unsigned MX pointing at the secure mx.dane-ok.test (DANE not applicable)
#   nxdomain.test          (any name not served) NXDOMAIN from the test. zone
#   domain (signed)        scenario
#   dane-ok.test           TLSA 3 1 1 of the served key: match (one record: --dane-rollover WARNING)
#   dane-bad.test          TLSA 3 1 1 of a retired key: mismatch
#   dane-roll.test         TLSA 3 1 1 retired + 3 1 1 served: match, two records
#   dane-ta.test           TLSA 2 1 1 of the test CA (in the chain), leaf names the MX: match
#   dane-tawrong.test      TLSA 2 1 1 of the CA, MX .18 presents a leaf for another name: fail
#   dane-unusable.test     only TLSA 1 1 1 and 0 0 1 (unusable for SMTP)
#   dane-none.test         no TLSA (secure NODATA)
#   dane-bogus.test        MX and A secure, TLSA RRSIG corrupted: SERVFAIL on TLSA
#   broken.test            MX RRSIG corrupted: SERVFAIL on MX
#   dane-expired.test      TLSA 3 1 1 matches a leaf that expired in 2020 (DANE-EE ignores dates)
#   dane-nostarttls.test   TLSA published, MX .17 offers no STARTTLS
#
# 127.0.20.x is the default: when something already listens there, start
# moves everything to 127.0.21.x ... 127.0.27.x (or CHECK_SMTP_IT_DNS_NET).
# STATEDIR/env gets DNS_* lines (see write_env below and integration/README.md).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
TD=$here/testdata/dns
action=${1:-}
STATE=${2:-}

# The third octet of every address: 20, or CHECK_SMTP_IT_DNS_NET; when
# something already listens on 127.0.20.x and no net was given, start picks
# the next free one of 21-27 (the templates say 127.0.20.x; rendering and
# hosts() rewrite it).
NET=${CHECK_SMTP_IT_DNS_NET:-20}
set_net() {
	NET=$1
	DNS_NET=$1
	AUTH=127.0.$NET.53
	RESOLVER=127.0.$NET.54
	HTTPS=127.0.$NET.80
}
set_net "$NET"
export DNS_NET=$NET

log() { printf 'dns.sh: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Same format as servers.sh's envline: KEY=VALUE, read by main_test.go's readEnv.
envline() { printf '%s=%s\n' "$1" "$2" >>"$STATE/env"; }

# envkey NAME: an env key from a host or domain name (mx.dane-ok.test -> MX_DANE_OK_TEST).
envkey() { local k=${1^^}; echo "${k//[^A-Z0-9]/_}"; }

missing_packages() {
	local m=()
	[ -x /usr/sbin/nsd ] || m+=(nsd)
	[ -x /usr/sbin/unbound ] && [ -x /usr/sbin/unbound-control ] || m+=(unbound)
	[ -x /usr/bin/ldns-keygen ] && [ -x /usr/bin/ldns-signzone ] || m+=(ldnsutils)
	[ -x /usr/sbin/nginx ] || m+=(nginx-light)
	[ -x /usr/bin/dig ] || m+=(bind9-dnsutils)
	[ -x /usr/bin/curl ] || m+=(curl)
	command -v unshare >/dev/null || m+=(util-linux)
	[ -x /usr/sbin/posttls-finger ] || m+=(postfix)
	command -v perl >/dev/null || m+=(perl-base)
	echo "${m[*]}"
}

# ---------------------------------------------------------------- rendering
# render MAP TEMPLATE OUT [TEMPLATE OUT...]: copy each TEMPLATE to its OUT
# (one perl for all: it is most of the rendering time) replacing every @KEY@ with the
# value for KEY in MAP (lines KEY<TAB>VALUE; \n and \t in a value are a
# newline and a tab). An
# @KEY@ without a value is an error, so a typo in a template cannot pass.
render() {
	perl -e '
		my $map = shift @ARGV;
		my %v;
		open(my $m, "<", $map) or die "$map: $!\n";
		while (<$m>) { chomp; my ($k, $val) = split(/\t/, $_, 2); $val =~ s/\\n/\n/g; $val =~ s/\\t/\t/g; $v{$k} = $val; }
		my $net = $ENV{DNS_NET} // 20;
		local $/;
		while (my ($in, $out) = splice(@ARGV, 0, 2)) {
			open(my $i, "<", $in) or die "$in: $!\n";
			my $t = <$i>;
			$t =~ s{@([A-Za-z0-9_]+(?::[^@\s]+)*)@}{ exists $v{$1} ? $v{$1} : die "$in: no value for \@$1\@\n" }ge;
			$t =~ s/\b127\.0\.20\./127.0.$net./g;
			open(my $o, ">", $out) or die "$out: $!\n";
			print $o $t;
			close($o) or die "$out: $!\n";
		}
	' "$@"
}

mapset() { printf '%s\t%s\n' "$1" "$2" >>"$D/map"; }

# ---------------------------------------------------------------- certificates
# mkcert NAME SANS [expired]: key and leaf certificate NAME signed by the test CA.
mkcert() {
	local name=$1 sans=$2 expired=${3:-} t=$D/tls
	printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' "$sans" >"$t/$name.ext"
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$t/$name.key" -out "$t/$name.csr" -subj "/CN=$name" 2>/dev/null || return 1
	if [ "$expired" = expired ]; then
		# openssl x509 cannot backdate; openssl ca can (-startdate/-enddate).
		openssl ca -batch -config "$t/ca.cnf" -cert "$STATE/tls/ca.pem" -keyfile "$STATE/tls/ca.key" \
			-in "$t/$name.csr" -out "$t/$name.pem" -extfile "$t/$name.ext" -notext \
			-startdate 20200101000000Z -enddate 20200301000000Z 2>/dev/null || return 1
	else
		openssl x509 -req -in "$t/$name.csr" -CA "$STATE/tls/ca.pem" -CAkey "$STATE/tls/ca.key" \
			-CAcreateserial -CAserial "$t/$name.srl" -days 825 -extfile "$t/$name.ext" -out "$t/$name.pem" 2>/dev/null || return 1
	fi
	cat "$t/$name.pem" "$STATE/tls/ca.pem" >"$t/$name.fullchain.pem"
	# Its DANE-EE digest, now, in parallel with the other certificates.
	hash spki256 "$name" >/dev/null
}

# hash KIND NAME: hex digest for a TLSA record. KIND: spki256 spki512 cert256
# cert512; NAME: a certificate of $D/tls, "ca" (the test CA) or "retired" (a
# key no server uses).
hash() {
	local kind=$1 name=$2 pem sum memo=$D/tls/$2.$1
	if [ -s "$memo" ]; then cat "$memo"; return; fi
	hash_uncached "$@" >"$memo.tmp" && mv "$memo.tmp" "$memo" && cat "$memo"
}

hash_uncached() {
	local kind=$1 name=$2 pem sum
	case $kind in *256) sum=sha256sum ;; *512) sum=sha512sum ;; *) die "hash: $kind" ;; esac
	case $name in
	ca) pem=$STATE/tls/ca.pem ;;
	retired)
		[ "${kind#spki}" != "$kind" ] || die "hash: the retired key has no certificate"
		openssl pkey -in "$D/tls/retired.key" -pubout -outform DER | $sum | cut -d' ' -f1
		return ;;
	*) pem=$D/tls/$name.pem ;;
	esac
	[ -f "$pem" ] || die "hash: no certificate $name"
	case $kind in
	spki*) openssl x509 -in "$pem" -noout -pubkey | openssl pkey -pubin -outform DER | $sum | cut -d' ' -f1 ;;
	cert*) openssl x509 -in "$pem" -outform DER | $sum | cut -d' ' -f1 ;;
	esac
}

make_certs() {
	local t=$D/tls
	mkdir -p "$t/ca-db"
	: >"$t/ca-db/index.txt"
	echo 1000 >"$t/ca-db/serial"
	cat >"$t/ca.cnf" <<-EOF
		[ca]
		default_ca = it
		[it]
		database = $t/ca-db/index.txt
		new_certs_dir = $t/ca-db
		serial = $t/ca-db/serial
		default_md = sha256
		policy = any
		unique_subject = no
		[any]
		commonName = supplied
	EOF
	local addr name server cert flags pids=() sans=""
	while read -r addr name server cert flags; do
		if [ "$cert" = - ]; then continue; fi
		mkcert "$cert" "DNS:$cert" "$flags" &
		pids+=($!)
	done < <(hosts)
	# nginx: one certificate for every mta-sts.* name it serves, one for the default server.
	for name in $(grep -oE 'mta-sts\.[a-z0-9-]+\.test' "$TD/nginx.conf" | sort -u); do
		sans="${sans:+$sans,}DNS:$name"
	done
	mkcert mta-sts "$sans" &
	pids+=($!)
	mkcert default.invalid DNS:default.invalid &
	pids+=($!)
	{ openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$t/retired.key" 2>/dev/null &&
		hash spki256 retired >/dev/null; } &
	pids+=($!)
	hash spki256 ca >/dev/null &
	pids+=($!)
	local p rc=0
	for p in "${pids[@]}"; do wait "$p" || rc=1; done
	[ $rc = 0 ] || return 1
	chmod 644 "$t"/*.pem
	chmod 640 "$t"/*.key
	chgrp postfix "$t"/*.key 2>/dev/null || true
}

# hosts: hosts.tsv without comments.
hosts() { grep -v '^[[:space:]]*\(#\|$\)' "$TD/hosts.tsv" | sed "s/^127\.0\.20\./127.0.$NET./"; }

# ---------------------------------------------------------------- zones
zones() { local f; for f in "$TD"/zones/*.zone; do f=${f##*/}; echo "${f%.zone}"; done; }

is_signed() { grep -q '^;! sign' "$TD/zones/$1.zone"; }

make_zones() {
	local z=$D/nsd/zones k=$D/keys
	mkdir -p "$z" "$k"
	# Generated parts: 120 MX records; a TXT record of 17 strings (4.3 KiB).
	local many="" i
	for i in $(seq -w 1 120); do many+="@\t\tMX\t$((10#$i)) mx$i\\nmx$i\t\tA\t127.0.$NET.14\\n"; done
	mapset MANYMX "$many"
	local big='"v=STSv1; id=20240601bigtxt; " '
	for i in $(seq 1 17); do big+="\"x$i=$(printf '%0250d' 0);\" "; done
	mapset BIGTXT "$big"
	# Digests named by the zone templates.
	local ph kind name v
	for ph in $(grep -ho '@HASH:[a-z0-9]*:[^@]*@' "$TD"/zones/*.zone | sort -u); do
		ph=${ph#@}
		ph=${ph%@}
		IFS=: read -r _ kind name <<<"$ph"
		v=$(hash "$kind" "$name") || return 1
		mapset "$ph" "$v"
	done
	local serial inception expiration zone pids=() pairs=()
	for zone in $(zones); do pairs+=("$TD/zones/$zone.zone" "$z/$zone.body"); done
	render "$D/map" "${pairs[@]}"
	serial=$(date -u +%s)
	inception=$(date -u -d '-1 hour' +%Y%m%d%H%M%S)
	expiration=$(date -u -d '+30 days' +%Y%m%d%H%M%S)
	: >"$D/unbound/anchors.ds"
	for zone in $(zones); do
		{
			printf '$ORIGIN %s.\n$TTL 300\n' "$zone"
			printf '@\tSOA\tns.%s. hostmaster.%s. %s 3600 600 86400 60\n' "$zone" "$zone" "$serial"
			printf '@\tNS\tns\nns\tA\t%s\n' "$AUTH"
		} >"$z/$zone.in"
		cat "$z/$zone.body" >>"$z/$zone.in"
		rm -f "$z/$zone.body"
		if is_signed "$zone"; then
			sign_zone "$zone" "$inception" "$expiration" &
			pids+=($!)
		else
			mv "$z/$zone.in" "$z/$zone.zone"
		fi
	done
	local p rc=0
	for p in "${pids[@]}"; do wait "$p" || rc=1; done
	[ $rc = 0 ] || return 1
	for zone in $(zones); do
		if is_signed "$zone"; then cat "$k/$zone.ds" >>"$D/unbound/anchors.ds"; fi
	done
}

# sign_zone ZONE INCEPTION EXPIRATION: one ECDSA P-256 key with the SEP flag
# signs everything (a CSK); its DS is the resolver's trust anchor. Then the
# zone's ";! corrupt OWNER TYPE" lines break the RRSIG over that RRset.
sign_zone() {
	local zone=$1 z=$D/nsd/zones k=$D/keys base
	base=$(cd "$k" && ldns-keygen -a ECDSAP256SHA256 -k -r /dev/urandom "$zone") || return 1
	ldns-signzone -i "$2" -e "$3" -o "$zone." -f "$z/$zone.zone" "$z/$zone.in" "$k/$base" || return 1
	cp "$k/$base.ds" "$k/$zone.ds"
	local owner type
	while read -r owner type; do
		[ "$owner" = @ ] && owner=$zone. || owner=$owner.$zone.
		corrupt_rrsig "$z/$zone.zone" "$owner" "$type" || return 1
	done < <(sed -n 's/^;! corrupt //p' "$TD/zones/$zone.zone")
	rm -f "$z/$zone.in"
}

# corrupt_rrsig FILE OWNER TYPE: change the first character of the signature
# of the RRSIG covering OWNER/TYPE (still valid base64, same length), so a
# validator finds it bogus.
corrupt_rrsig() {
	local n
	n=$(awk -v o="$2" -v t="$3" '$1 == o && $4 == "RRSIG" && $5 == t { n++ } END { print n + 0 }' "$1")
	[ "$n" -ge 1 ] || { log "corrupt: no RRSIG for $2 $3 in $1"; return 1; }
	awk -v o="$2" -v t="$3" 'BEGIN { OFS = "\t" }
		$1 == o && $4 == "RRSIG" && $5 == t { c = substr($NF, 1, 1); $NF = (c == "A" ? "B" : "A") substr($NF, 2) }
		{ print }' "$1" >"$1.tmp" && mv "$1.tmp" "$1"
}

# ---------------------------------------------------------------- configs
# make_postfix: the port-25 Postfix's configuration, then "postfix check" (which
# makes the queue directories and takes over a second) in the background
# while the certificates and zones are made; start_all waits for it.
make_postfix() {
	# Postfix: one smtpd listener per postfix host of hosts.tsv.
	local addr name server cert flags zone doms="" master=$D/postfix/etc/master.cf
	mkdir -p "$D/postfix/etc" "$D/postfix/spool" "$D/postfix/data"
	chown postfix "$D/postfix/data"
	: >"$master"
	while read -r addr name server cert flags; do
		case $server in
		postfix)
			echo "$addr:25 inet n - n - - smtpd -o syslog_name=postfix-dns/$name -o myhostname=$name -o smtpd_tls_cert_file=$D/tls/$cert.fullchain.pem -o smtpd_tls_key_file=$D/tls/$cert.key" >>"$master" ;;
		postfix-notls)
			echo "$addr:25 inet n - n - - smtpd -o syslog_name=postfix-dns/$name -o myhostname=$name -o smtpd_tls_security_level=none" >>"$master" ;;
		esac
	done < <(hosts)
	cat "$TD/postfix-master.cf" >>"$master"
	for zone in $(zones); do
		if [ "$zone" != test ]; then doms="${doms:+$doms, }$zone"; fi
	done
	mapset PF_DOMAINS "$doms"
	render "$D/map" "$TD/postfix-main.cf" "$D/postfix/etc/main.cf"

	/usr/sbin/postfix -c "$D/postfix/etc" check >"$STATE/logs/dns-postfix-check.log" 2>&1 &
	POSTFIX_CHECK=$!
}

make_configs() {
	local zone stubs="" zs=""
	for zone in $(zones); do
		zs+="zone:\\n\\tname: \"$zone.\"\\n\\tzonefile: \"$zone.zone\"\\n\\n"
		if [ "$zone" = test ]; then continue; fi
		stubs+="stub-zone:\\n\\tname: \"$zone.\"\\n\\tstub-addr: $AUTH\\n\\n"
	done
	# test. last among the stubs or first: unbound picks the closest one either way.
	stubs="stub-zone:\\n\\tname: \"test.\"\\n\\tstub-addr: $AUTH\\n\\n$stubs"
	mapset ZONES "$zs"
	mapset STUBS "$stubs"

	# nginx: policies as files, the big one generated.
	local f d
	for f in "$TD"/mta-sts/*.txt; do
		d=$D/nginx/html/mta-sts.$(basename "$f" .txt)/.well-known
		mkdir -p "$d"
		cp "$f" "$d/mta-sts.txt"
	done
	d=$D/nginx/html/mta-sts.sts-big.test/.well-known
	mkdir -p "$d"
	{
		printf 'version: STSv1\nmode: enforce\nmx: mx1.good.test\nmax_age: 604800\n'
		local i
		for i in $(seq -w 1 3000); do printf 'mx: pad%s.sts-big.test\n' "$i"; done
	} >"$d/mta-sts.txt"
	mkdir -p "$D/nginx/tmp"

	# chasquid: mx2.good.test.
	local c=$D/chasquid
	mkdir -p "$c/certs/mx2.good.test" "$c/domains/good.test" "$c/data"
	cp "$D/tls/mx2.good.test.fullchain.pem" "$c/certs/mx2.good.test/fullchain.pem"
	cp "$D/tls/mx2.good.test.key" "$c/certs/mx2.good.test/privkey.pem"
	echo 'postmaster: | /bin/true' >"$c/domains/good.test/aliases"

	render "$D/map" "$TD/nsd.conf" "$D/nsd/nsd.conf" "$TD/unbound.conf" "$D/unbound/unbound.conf" \
		"$TD/nginx.conf" "$D/nginx/nginx.conf" "$TD/chasquid.conf" "$c/chasquid.conf"

	# For tools run by the tests (posttls-finger through a private mount namespace).
	printf 'nameserver %s\noptions edns0 trust-ad\n' "$RESOLVER" >"$D/resolv.conf"
}

# ---------------------------------------------------------------- processes
launch() {
	local name=$1 logfile=$2
	shift 2
	setsid "$@" </dev/null >>"$logfile" 2>&1 &
	local pid=$!
	echo "$pid" >"$STATE/pids/dns-$name.pid"
	log "started $name (pid $pid)"
}

# listening ADDR PORT [udp]: something listens there (or on the wildcard address).
listening() {
	local flag=-Hltn
	[ "${3:-}" = udp ] && flag=-Hlun
	ss $flag 2>/dev/null | awk -v a="$1:$2" -v p="$2" '
		{ l = $4 } l == a || l == "0.0.0.0:" p || l == "*:" p || l == "[::]:" p { f = 1 } END { exit !f }'
}

# wait_until SECONDS CMD...: until CMD succeeds; at once a failure when a
# server we started has died meanwhile (its log says why).
wait_until() {
	local deadline=$((SECONDS + $1)) f
	shift
	while [ $SECONDS -lt $deadline ]; do
		if "$@" >/dev/null 2>&1; then return 0; fi
		for f in "$STATE"/pids/dns-*.pid; do
			if ! kill -0 "$(cat "$f")" 2>/dev/null; then
				log "$(basename "$f" .pid) exited during start"
				return 1
			fi
		done
		sleep 0.1
	done
	"$@" >/dev/null 2>&1
}

tcp_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# listeners: ADDR PORT of every TCP listener "start" makes.
listeners() {
	echo "$AUTH 53"
	echo "$RESOLVER 53"
	echo "$HTTPS 443"
	local addr name server cert flags
	while read -r addr name server cert flags; do
		case $server in postfix | postfix-notls | chasquid) echo "$addr 25" ;; esac
	done < <(hosts)
	echo "127.0.$NET.12 587"
	echo "127.0.$NET.12 465"
}

# busy_listeners: the addresses of listeners() that something already holds.
busy_listeners() {
	local addr port busy=()
	while read -r addr port; do
		if listening "$addr" "$port"; then busy+=("$addr:$port"); fi
	done < <(listeners)
	for addr in "$AUTH" "$RESOLVER"; do
		if listening "$addr" 53 udp; then busy+=("$addr:53/udp"); fi
	done
	echo "${busy[*]}"
}

start_all() {
	nsd-checkconf "$D/nsd/nsd.conf" || { log "nsd-checkconf failed"; return 1; }
	unbound-checkconf "$D/unbound/unbound.conf" >/dev/null || { log "unbound-checkconf failed"; return 1; }
	/usr/sbin/nginx -t -q -p "$D/nginx" -c "$D/nginx/nginx.conf" -e "$STATE/logs/dns-nginx-error.log" ||
		{ log "nginx -t failed: $(tail -n 3 "$STATE/logs/dns-nginx-error.log")"; return 1; }
	local zone
	for zone in $(zones); do
		nsd-checkzone "$zone." "$D/nsd/zones/$zone.zone" >/dev/null || { log "nsd-checkzone $zone failed"; return 1; }
	done
	launch nsd "$STATE/logs/dns-nsd.stderr.log" /usr/sbin/nsd -d -c "$D/nsd/nsd.conf"
	launch unbound "$STATE/logs/dns-unbound.stderr.log" /usr/sbin/unbound -d -c "$D/unbound/unbound.conf"
	launch nginx "$STATE/logs/dns-nginx.stderr.log" /usr/sbin/nginx -p "$D/nginx" -c "$D/nginx/nginx.conf" \
		-e "$STATE/logs/dns-nginx-error.log" -g 'daemon off;'
	wait "$POSTFIX_CHECK" || { log "postfix check failed: $(cat "$STATE/logs/dns-postfix-check.log")"; return 1; }
	launch postfix "$STATE/logs/dns-postfix.stderr.log" /usr/lib/postfix/sbin/master -c "$D/postfix/etc" -s
	# chasquid checks the SPF of every MAIL FROM domain through the system
	# resolver: in a private mount namespace its /etc/resolv.conf names the
	# test resolver, so those look-ups stay on the machine too.
	launch chasquid "$STATE/logs/dns-chasquid.log" unshare -m sh -c 'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"' \
		sh "$D/resolv.conf" /usr/bin/chasquid -config_dir "$D/chasquid" -alsologtostderr -v 1

	# Ready: the resolver answers through nsd, every TCP listener accepts.
	wait_until 20 dig +time=1 +tries=1 +norecurse @"$AUTH" test. SOA ||
		{ log "nsd does not answer"; return 1; }
	wait_until 20 sh -c "dig +time=1 +tries=1 @$RESOLVER dane-ok.test. SOA | grep -q 'status: NOERROR'" ||
		{ log "unbound does not answer"; return 1; }
	local addr port
	while read -r addr port; do
		wait_until 20 tcp_open "$addr" "$port" || { log "nothing listens on $addr:$port"; return 1; }
	done < <(listeners)
}

write_env() {
	envline DNS_AUTH "$AUTH"
	envline DNS_RESOLVER "$RESOLVER"
	envline DNS_PORT 53
	envline DNS_HTTPS "$HTTPS"
	envline DNS_CA "$STATE/tls/ca.pem"
	envline DNS_DIR "$D"
	envline DNS_RESOLV_CONF "$D/resolv.conf"
	envline DNS_UNBOUND_CONF "$D/unbound/unbound.conf"
	envline DNS_POSTFIX_CONFIG "$D/postfix/etc"
	local zone signed="" unsigned=""
	for zone in $(zones); do
		if [ "$zone" = test ]; then continue; fi
		if is_signed "$zone"; then signed="${signed:+$signed }$zone"; else unsigned="${unsigned:+$unsigned }$zone"; fi
	done
	envline DNS_SIGNED_ZONES "$signed"
	envline DNS_UNSIGNED_ZONES "$unsigned"
	local addr name server cert flags down=""
	while read -r addr name server cert flags; do
		envline "DNS_ADDR_$(envkey "$name")" "$addr"
		envline "DNS_SERVER_$(envkey "$name")" "$server"
		if [ "$server" = down ]; then down="${down:+$down }$addr"; fi
		# The TLSA a DANE-EE publisher would write for the certificate served there.
		if [ "$cert" != - ]; then envline "DNS_TLSA_$(envkey "$name")" "3 1 1 $(hash spki256 "$cert")"; fi
	done < <(hosts)
	envline DNS_DOWN_ADDRS "$down"
	envline DNS_TLSA_RETIRED "3 1 1 $(hash spki256 retired)"
	envline DNS_TLSA_CA "2 1 1 $(hash spki256 ca)"
	envline DNS_NXDOMAIN nxdomain.test
}

# ---------------------------------------------------------------- start/stop
do_start() {
	[ -n "$STATE" ] && [ -d "$STATE" ] || die "usage: $0 start STATEDIR (made by servers.sh start)"
	STATE=$(cd "$STATE" && pwd)
	D=$STATE/dns
	mkdir -p "$STATE/pids" "$STATE/logs"
	touch "$STATE/env"
	if [ "$(id -u)" != 0 ]; then
		log "not root: ports 53, 443 and 25 on 127.0.$NET.x need root; DNS/DANE/MTA-STS infrastructure NOT started"
		envline DNS_OK 0
		[ "${CHECK_SMTP_IT_REQUIRE:-}" = 1 ] && exit 1
		exit 0
	fi
	local t0=$SECONDS
	# In the background so that set -e holds inside (it does not in an "if"
	# or before a "||"), and says where it failed.
	(
		set -E
		trap 'log "failed: line $LINENO: $BASH_COMMAND"' ERR
		dns_start_inner
	) &
	if ! wait $!; then
		log "start failed; stopping what was started. Logs: $STATE/logs/dns-*"
		local l
		for l in "$STATE"/logs/dns-*; do
			if [ -s "$l" ]; then echo "==== $l" >&2; tail -n 30 "$l" >&2; fi
		done
		do_stop || true
		envline DNS_OK 0
		exit 1
	fi
	envline DNS_OK 1
	log "DNS/DANE/MTA-STS infrastructure up in $((SECONDS - t0)) s"
}

# phase FUNC: run FUNC and log how long it took (start time is a cost to keep small).
phase() {
	local t0=${EPOCHREALTIME/./}
	"$1"
	local us=$((${EPOCHREALTIME/./} - t0))
	log "$1: $((us / 1000)) ms"
}

dns_start_inner() {
	local m
	m=$(missing_packages)
	[ -z "$m" ] || { log "missing packages: $m (run servers.sh install)"; return 1; }
	[ -f "$STATE/tls/ca.pem" ] && [ -f "$STATE/tls/ca.key" ] || { log "no test CA in $STATE/tls (servers.sh start makes it)"; return 1; }
	[ -z "$(ls "$STATE"/pids/dns-*.pid 2>/dev/null)" ] || { log "$STATE/pids/dns-*.pid exist: stop first ($0 stop $STATE)"; return 1; }
	local busy
	while :; do
		busy=$(busy_listeners)
		[ -z "$busy" ] && break
		if [ -n "${CHECK_SMTP_IT_DNS_NET:-}" ] || [ "$NET" -ge 27 ]; then
			log "already in use: $busy (set CHECK_SMTP_IT_DNS_NET to another third octet)"
			return 1
		fi
		log "in use on 127.0.$NET.x: $busy; trying 127.0.$((NET + 1)).x"
		set_net $((NET + 1))
	done
	# Now, so that a stop after a failed start checks the right addresses.
	envline DNS_NET "$NET"
	rm -rf "$D"
	mkdir -p "$D/tls" "$D/nsd" "$D/unbound" "$D/nginx" "$D/postfix"
	chmod 755 "$D"
	: >"$D/map"
	mapset STATE "$STATE"
	mapset LOGS "$STATE/logs"
	mapset NSD "$D/nsd"
	mapset UNBOUND "$D/unbound"
	mapset NGINX "$D/nginx"
	mapset TLS "$D/tls"
	mapset PF "$D/postfix"
	mapset CQ "$D/chasquid"
	phase make_postfix
	phase make_certs
	phase make_zones
	phase make_configs
	phase start_all
	phase write_env
	log "resolver $RESOLVER, authoritative $AUTH, https $HTTPS, MX hosts on 127.0.$NET.x port 25"
}

do_stop() {
	[ -n "$STATE" ] && [ -d "$STATE/pids" ] || { log "nothing to stop"; return 0; }
	local net
	net=$(sed -n 's/^DNS_NET=//p' "$STATE/env" 2>/dev/null | tail -n 1)
	if [ -n "$net" ]; then set_net "$net"; fi
	local f pid pids=() had=0
	for f in "$STATE"/pids/dns-*.pid; do
		[ -e "$f" ] || continue
		had=1
		pid=$(cat "$f")
		# Started by setsid: the process group id is the PID (see servers.sh).
		if kill -0 "$pid" 2>/dev/null || pgrep -g "$pid" >/dev/null 2>&1; then
			log "stopping $(basename "$f" .pid) (pid $pid and its process group)"
			kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
			pids+=("$pid")
		fi
	done
	local deadline=$((SECONDS + 10)) left
	while [ ${#pids[@]} -gt 0 ]; do
		left=0
		for pid in "${pids[@]}"; do
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
		sleep 0.1
	done
	rm -f "$STATE"/pids/dns-*.pid
	# Started nothing: the addresses may well be someone else's.
	[ "$had" = 1 ] || return 0
	local addr port still=()
	while read -r addr port; do
		if ss -Hltn "src $addr:$port" 2>/dev/null | grep -q .; then still+=("$addr:$port"); fi
	done < <(listeners)
	[ ${#still[@]} -eq 0 ] || { log "ERROR: still listening after stop: ${still[*]}"; return 1; }
}

case "$action" in
start) do_start ;;
stop)
	[ -z "$STATE" ] || STATE=$(cd "$STATE" 2>/dev/null && pwd) || true
	do_stop
	;;
missing-packages) missing_packages ;;
*)
	echo "usage: $0 start STATEDIR | stop STATEDIR | missing-packages" >&2
	exit 2
	;;
esac
