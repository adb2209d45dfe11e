#!/bin/sh
# A stand-in plugin for TestIcinga2's argv services: prints the argv Icinga
# built from the CheckCommand and whether CHECK_SMTP_AUTHPASSWORD was set,
# never its value. Exit 0.
printf 'ARGV'
for a in "$@"; do printf ' [%s]' "$a"; done
if [ -n "${CHECK_SMTP_AUTHPASSWORD:-}" ]; then
	printf ' ENV=set\n'
else
	printf ' ENV=empty\n'
fi
