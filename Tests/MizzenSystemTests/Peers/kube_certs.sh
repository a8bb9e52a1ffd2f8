#!/usr/bin/env bash
# PKI for the stand-in Kubernetes API server (kube_apiserver.py), openssl CLI only.
#
#   kube_certs.sh OUTDIR
#
# EC P-256 keys (PKCS#8 PEM), certificates valid for 10 years, as OUTDIR/NAME.crt, NAME.key:
#   ca                "Mizzen Kube Test CA" (self-signed): signs the server and client certs
#   server            serverAuth, SAN IP:127.0.0.1, IP:::1, DNS:localhost, DNS:kubernetes,
#                     DNS:kubernetes.default, DNS:kubernetes.default.svc,
#                     DNS:kubernetes.default.svc.cluster.local                (signed by ca)
#   client            clientAuth, CN=mizzen-test-client, O=system:masters    (signed by ca)
#   other-ca          "Mizzen Kube Other CA" (self-signed, unrelated)
#   untrusted-client  clientAuth, CN=untrusted-client                         (signed by other-ca)
#
# The API server takes ca.crt as --client-ca; a client certificate's CN is the user name.
# Idempotent: an OUTDIR marked complete (OUTDIR/.complete) is left alone; otherwise everything
# is made in a temporary folder inside OUTDIR, checked with `openssl verify`, and moved in.
# Quiet on success; on failure prints what failed (with openssl's output) and exits 1.
set -euo pipefail

if [[ $# -ne 1 || "$1" == "-h" || "$1" == "--help" ]]; then
    sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
    [[ $# -eq 1 ]] && exit 0 || exit 2
fi

OUT=$1
ALL=(ca server client other-ca untrusted-client)
complete=1
[[ -f "$OUT/.complete" ]] || complete=0
for name in "${ALL[@]}"; do
    [[ -s "$OUT/$name.crt" && -s "$OUT/$name.key" ]] || complete=0
done
[[ $complete == 1 ]] && exit 0

command -v openssl >/dev/null || { echo "kube_certs.sh: openssl not found" >&2; exit 1; }
mkdir -p "$OUT"
WORK=$(mktemp -d "${OUT%/}/.kube-certs.XXXXXX")
LOG="$WORK/openssl.log"
trap 'rm -rf "$WORK"' EXIT

fail() {
    echo "kube_certs.sh: $*" >&2
    [[ -s "$LOG" ]] && sed 's/^/  openssl: /' "$LOG" >&2
    exit 1
}

run() {  # run CMD... ; openssl chatter goes to the log, shown only on failure
    "$@" >>"$LOG" 2>&1 || fail "failed: $*"
}

key() {
    run openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/$1.key"
}

ca() {  # ca NAME "CN"
    key "$1"
    run openssl req -new -x509 -key "$WORK/$1.key" -subj "/O=Mizzen Tests/CN=$2" -days 3650 -sha256 \
        -set_serial "0x$(openssl rand -hex 16)" -config /dev/null -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
        -addext "subjectKeyIdentifier=hash" -out "$WORK/$1.crt"
}

leaf() {  # leaf NAME ISSUER SUBJECT serverAuth|clientAuth [SAN]
    key "$1"
    run openssl req -new -key "$WORK/$1.key" -subj "$3" -config /dev/null -out "$WORK/$1.csr"
    {
        echo "basicConstraints = critical, CA:FALSE"
        echo "keyUsage = critical, digitalSignature"
        echo "extendedKeyUsage = $4"
        [[ -n "${5:-}" ]] && echo "subjectAltName = $5"
        echo "subjectKeyIdentifier = hash"
        echo "authorityKeyIdentifier = keyid, issuer"
    } >"$WORK/$1.ext"
    run openssl x509 -req -in "$WORK/$1.csr" -CA "$WORK/$2.crt" -CAkey "$WORK/$2.key" \
        -set_serial "0x$(openssl rand -hex 16)" -days 3650 -sha256 -extfile "$WORK/$1.ext" \
        -out "$WORK/$1.crt"
    rm -f "$WORK/$1.csr" "$WORK/$1.ext"
}

ca ca "Mizzen Kube Test CA"
ca other-ca "Mizzen Kube Other CA"
leaf server ca "/O=Mizzen Tests/CN=kube-apiserver" serverAuth \
    "IP:127.0.0.1, IP:::1, DNS:localhost, DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.cluster.local"
leaf client ca "/O=system:masters/CN=mizzen-test-client" clientAuth
leaf untrusted-client other-ca "/O=system:masters/CN=untrusted-client" clientAuth

for name in server client; do
    run openssl verify -CAfile "$WORK/ca.crt" "$WORK/$name.crt"
done
run openssl verify -CAfile "$WORK/other-ca.crt" "$WORK/untrusted-client.crt"
if openssl verify -CAfile "$WORK/ca.crt" "$WORK/untrusted-client.crt" >/dev/null 2>&1; then
    fail "untrusted-client.crt unexpectedly verifies against ca"
fi
chmod 600 "$WORK"/*.key

rm -f "$OUT/.complete"
for name in "${ALL[@]}"; do
    mv -f "$WORK/$name.crt" "$WORK/$name.key" "$OUT/"
done
touch "$OUT/.complete"
