#!/usr/bin/env bash
# Rehearses README.md's Docker walkthrough without Docker: the same `spool` steps, verbatim
# from the README, against a local regtest bitcoind that gets only the -rpcauth line of
# docker/rpcauth.sh (spool authenticates with the password, `mine` with the node's cookie),
# as in docker-compose.yml. What it cannot check: the images, the Compose wiring, the
# container user. Needs bash, jq, openssl, `bitcoind` and `bitcoin-cli` (BITCOIND_EXE, with
# bitcoin-cli beside it) and a built `spool` (SPOOL_EXE, default target/debug/spool).
#
#   BITCOIND_EXE=/path/to/bitcoind docker/rehearse.sh
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bitcoind=${BITCOIND_EXE:?set BITCOIND_EXE to a bitcoind (bitcoin-cli beside it)}
cli=$(dirname "$bitcoind")/bitcoin-cli
spool_exe=${SPOOL_EXE:-$root/target/debug/spool}
for tool in jq openssl "$cli" "$spool_exe"; do
    command -v "$tool" >/dev/null || { echo "rehearse.sh: $tool not found" >&2; exit 1; }
done

work=$(mktemp -d)
rpcport=$((20000 + RANDOM % 20000))
node_pid=
cleanup() {
    if [ -n "$node_pid" ]; then
        kill "$node_pid" 2>/dev/null || true
        wait "$node_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

"$root/docker/rpcauth.sh" > "$work/.env"
# shellcheck disable=SC1091
. "$work/.env"
mkdir "$work/btc"
"$bitcoind" -regtest=1 -server=1 -txindex=1 -disablewallet=1 -listen=0 \
    -datadir="$work/btc" -rpcbind=127.0.0.1 -rpcallowip=127.0.0.1 -rpcport="$rpcport" \
    "-rpcauth=$BITCOIN_RPCUSER:$BITCOIN_RPCSALT\$$BITCOIN_RPCHMAC" -printtoconsole=0 &
node_pid=$!
for _ in $(seq 60); do
    "$cli" -datadir="$work/btc" -regtest -rpcport="$rpcport" getblockchaininfo >/dev/null 2>&1 && break
    sleep 0.5
done
if ps -o args= -p "$node_pid" | grep -qF "$SPOOL_RPC_PASSWORD"; then
    echo "rehearse.sh: the RPC password is on bitcoind's command line" >&2
    exit 1
fi

# The README's two blocks: the secrets of the first, all of the second; container paths and
# `docker compose run` replaced by their local equivalents.
section=$(awk '/^## Docker$/ {on = 1; next} /^## / {on = 0} on' "$root/README.md")
blocks=$(printf '%s\n' "$section" |
    awk '/^```sh$/ {n++; inside = 1; next} /^```$/ {inside = 0; next} inside {print n "\t" $0}')
exports=$(printf '%s\n' "$blocks" | awk -F'\t' '$1 == 1 && $2 ~ /^export / {print $2}')
walkthrough=$(printf '%s\n' "$blocks" | awk -F'\t' '$1 == 2 {print $2}' |
    sed -e "s|/vectors/|$root/vectors/|g" -e 's|docker compose run --rm spool |spool_plain |g')
[ -n "$exports" ] && [ -n "$walkthrough" ] || { echo "rehearse.sh: README blocks not found" >&2; exit 1; }

export SPOOL_NETWORK=regtest SPOOL_BACKEND=core SPOOL_RPC_URL="http://127.0.0.1:$rpcport"
export SPOOL_RPC_USER="$BITCOIN_RPCUSER" SPOOL_RPC_PASSWORD SPOOL_DATA_DIR="$work/data"
spool_plain() { "$spool_exe" "$@"; }
spool() { "$spool_exe" --json "$@"; }
mine() { "$cli" -datadir="$work/btc" -regtest -rpcport="$rpcport" generatetoaddress "$1" "$2" >/dev/null; }
eval "$exports"
eval "$walkthrough"
echo "rehearse.sh: the README's Docker walkthrough ran to the end"
