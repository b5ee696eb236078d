"""Generates vectors/wallets_newline.json: pyspool wallets whose master secret ends in a
newline, taken verbatim, as pyspool's `spool.wallet.Wallet` derives them.

pyspool 0.2.0's Wallet is `BIP32Node.from_master_secret(password.encode(), netcode)` with
`subkey_for_path(path)` for leaves (pycoin). Run with pycoin 0.80 (pyspool asks for
pycoin>=0.70); on Python >= 3.11 replace `inspect.getargspec` by `inspect.getfullargspec`
in pycoin/tx/script/microcode.py. The same script reproduces all 128 vectors of
wallets.json before writing (a check that this pycoin derives as pyspool did).
"""
import json
import os

from pycoin.key.BIP32Node import BIP32Node

HERE = os.path.dirname(os.path.abspath(__file__))


def derive(secret, network, path):
    netcode = "BTC" if network == "mainnet" else "XTN"
    wallet = BIP32Node.from_master_secret(secret.encode(), netcode=netcode)
    key = wallet.subkey_for_path(path) if path else wallet
    return key.address(), key.wif()


known = json.load(open(os.path.join(HERE, "..", "wallets.json")))
for v in known:
    assert derive(v["secret"], v["network"], v["path"]) == (v["address"], v["wif"]), v

vectors = []
for secret in ["federation-secret\n", "MaStErPaSsWoRd\r\n", "alice-secret\n\n", "bob\n"]:
    for network in ["mainnet", "testnet"]:
        for path in ["", "1/2/3", "2015/5/28/9/28/44/982190"]:
            address, wif = derive(secret, network, path)
            vectors.append(
                {"secret": secret, "network": network, "path": path,
                 "address": address, "wif": wif}
            )
with open(os.path.join(HERE, "..", "wallets_newline.json"), "w") as out:
    json.dump(vectors, out, indent=1)
    out.write("\n")
print(len(vectors), "vectors")
