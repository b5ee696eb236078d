#!/bin/sh
# Prints the RPC credentials docker-compose.yml reads from `.env`: a fresh random password for
# spool, and for bitcoind only its salted HMAC-SHA256, the `-rpcauth=USER:SALT$HMAC` scheme of
# Bitcoin Core's share/rpcauth/rpcauth.py, so that the password is in no process's argv.
#
#   docker/rpcauth.sh [USER] > .env     (USER: letters, digits, _ or -; default spool)
#
# The password is hex, so it needs no quoting in `.env` in any version of Compose.
set -eu

user=${1:-spool}
case $user in
'' | *[!A-Za-z0-9_-]*)
    echo "rpcauth.sh: the user name must be letters, digits, _ or -, not '$user'" >&2
    exit 2
    ;;
esac
if ! command -v openssl >/dev/null 2>&1; then
    echo "rpcauth.sh: needs openssl" >&2
    exit 1
fi

password=$(openssl rand -hex 32)
salt=$(openssl rand -hex 16)
# The password goes through stdin; the salt (public anyway: it is in -rpcauth) is the key.
hmac=$(printf '%s' "$password" | openssl dgst -sha256 -hmac "$salt" | sed 's/^.*= //')

printf 'BITCOIN_RPCUSER=%s\n' "$user"
printf 'BITCOIN_RPCSALT=%s\n' "$salt"
printf 'BITCOIN_RPCHMAC=%s\n' "$hmac"
printf 'SPOOL_RPC_PASSWORD=%s\n' "$password"
