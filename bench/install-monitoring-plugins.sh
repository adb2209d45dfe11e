#!/bin/sh
# Installs Debian's monitoring-plugins-basic (for /usr/lib/nagios/plugins/check_smtp)
# when it is missing, so that `make bench` can compare against it. It never fails
# the benchmark: without the package the runner marks check_smtp as n/a.
set -u
PLUGIN=/usr/lib/nagios/plugins/check_smtp
[ -x "$PLUGIN" ] && exit 0
SUDO=
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
		echo "bench: not root and no sudo: skipping monitoring-plugins-basic" >&2
		exit 0
	fi
fi
# Keep the package's maintainer scripts from starting services.
CREATED=
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null &&
		$SUDO chmod 755 /usr/sbin/policy-rc.d && CREATED=1
fi
$SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null 2>&1
DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends \
	monitoring-plugins-basic >/dev/null 2>&1 ||
	echo "bench: could not install monitoring-plugins-basic; check_smtp will be n/a" >&2
[ -n "$CREATED" ] && $SUDO rm -f /usr/sbin/policy-rc.d
exit 0
