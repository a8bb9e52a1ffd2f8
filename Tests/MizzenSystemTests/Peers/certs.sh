#!/usr/bin/env bash
# Test PKI for Mizzen's end-to-end tests, made with the openssl CLI only.
#
#   certs.sh OUTDIR
#
# EC P-256 keys (PKCS#8 PEM), certificates valid for 10 years:
#   ca                 "Mizzen Test CA" (self-signed)
#   other-ca           "Mizzen Other CA" (self-signed, unrelated)
#   bookinfo           server, SAN DNS:bookinfo.example.com        (signed by ca)
#   wildcard           server, SAN DNS:*.example.org               (signed by ca)
#   passthrough        server, SAN DNS:passthrough.example.net     (signed by ca)
#   client             client, SAN URI:spiffe://cluster.local/ns/default/sa/client,
#                              DNS:client.example.com              (signed by ca)
#   untrusted-client   client, SAN DNS:untrusted.example.com       (signed by other-ca)
#   upstream           server, SAN DNS:upstream.internal,
#                              URI:spiffe://cluster.local/ns/default/sa/upstream (signed by ca)
#   workload           client+server, SAN URI:spiffe://cluster.local/ns/istio-system/
#                              sa/istio-ingressgateway-service-account (signed by ca)
# as OUTDIR/NAME.crt and OUTDIR/NAME.key, plus Kubernetes TLS secret layouts:
#   OUTDIR/credentials/bookinfo-credential/{tls.crt,tls.key,ca.crt}
#   OUTDIR/credentials/bookinfo-credential-cacert/ca.crt
#   OUTDIR/credentials/wildcard-credential/{tls.crt,tls.key}
#   OUTDIR/credentials/upstream-client-credential/{tls.crt,tls.key,ca.crt} (client + ca)
# and Istio's workload certificate files (for ISTIO_MUTUAL):
#   OUTDIR/workload/{cert-chain.pem,key.pem,root-cert.pem}   (workload + ca)
#
# Idempotent: when OUTDIR already holds a complete set, nothing is touched.
# Otherwise everything is made afresh in a temporary folder and moved in.
# Quiet on success; on failure prints what failed (with openssl's output)
# to stderr and exits non-zero.
set -euo pipefail

if [[ $# -ne 1 || "$1" == "-h" || "$1" == "--help" ]]; then
    sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'
    [[ $# -eq 1 ]] && exit 0 || exit 2
fi

trap 'echo "certs.sh: failed at line $LINENO" >&2' ERR
OUT=$1
LEAVES=(bookinfo wildcard passthrough client untrusted-client upstream workload)
ALL=(ca other-ca "${LEAVES[@]}")
EXPECTED=()
for name in "${ALL[@]}"; do EXPECTED+=("$name.crt" "$name.key"); done
EXPECTED+=(credentials/bookinfo-credential/tls.crt credentials/bookinfo-credential/tls.key
           credentials/bookinfo-credential/ca.crt credentials/bookinfo-credential-cacert/ca.crt
           credentials/wildcard-credential/tls.crt credentials/wildcard-credential/tls.key
           credentials/upstream-client-credential/tls.crt credentials/upstream-client-credential/tls.key
           credentials/upstream-client-credential/ca.crt
           workload/cert-chain.pem workload/key.pem workload/root-cert.pem)

complete=1
[[ -f "$OUT/.complete" ]] || complete=0
for file in "${EXPECTED[@]}"; do [[ -s "$OUT/$file" ]] || complete=0; done
if [[ $complete == 1 ]]; then
    exit 0
fi

command -v openssl >/dev/null || { echo "certs.sh: openssl not found" >&2; exit 1; }
mkdir -p "$OUT"
WORK=$(mktemp -d "${OUT%/}/.certs.XXXXXX")
LOG="$WORK/openssl.log"
trap 'rm -rf "$WORK"' EXIT

fail() {
    echo "certs.sh: $*" >&2
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

leaf() {  # leaf NAME ISSUER "CN" serverAuth|clientAuth "SAN"
    key "$1"
    run openssl req -new -key "$WORK/$1.key" -subj "/O=Mizzen Tests/CN=$3" -config /dev/null \
        -out "$WORK/$1.csr"
    cat >"$WORK/$1.ext" <<EOF
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = $4
subjectAltName = $5
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
EOF
    run openssl x509 -req -in "$WORK/$1.csr" -CA "$WORK/$2.crt" -CAkey "$WORK/$2.key" \
        -set_serial "0x$(openssl rand -hex 16)" -days 3650 -sha256 -extfile "$WORK/$1.ext" \
        -out "$WORK/$1.crt"
    rm -f "$WORK/$1.csr" "$WORK/$1.ext"
}

ca ca "Mizzen Test CA"
ca other-ca "Mizzen Other CA"
leaf bookinfo ca "bookinfo.example.com" serverAuth "DNS:bookinfo.example.com"
leaf wildcard ca "*.example.org" serverAuth "DNS:*.example.org"
leaf passthrough ca "passthrough.example.net" serverAuth "DNS:passthrough.example.net"
leaf client ca "client.example.com" clientAuth \
    "URI:spiffe://cluster.local/ns/default/sa/client, DNS:client.example.com"
leaf untrusted-client other-ca "untrusted.example.com" clientAuth "DNS:untrusted.example.com"
leaf upstream ca "upstream.internal" serverAuth \
    "DNS:upstream.internal, URI:spiffe://cluster.local/ns/default/sa/upstream"
leaf workload ca "istio-ingressgateway" "serverAuth, clientAuth" \
    "URI:spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account"

# Self-check: each leaf verifies against its own CA, and not against the other.
for name in bookinfo wildcard passthrough client upstream workload; do
    run openssl verify -CAfile "$WORK/ca.crt" "$WORK/$name.crt"
    if openssl verify -CAfile "$WORK/other-ca.crt" "$WORK/$name.crt" >/dev/null 2>&1; then
        fail "$name.crt unexpectedly verifies against other-ca"
    fi
done
run openssl verify -CAfile "$WORK/other-ca.crt" "$WORK/untrusted-client.crt"
if openssl verify -CAfile "$WORK/ca.crt" "$WORK/untrusted-client.crt" >/dev/null 2>&1; then
    fail "untrusted-client.crt unexpectedly verifies against ca"
fi
for name in "${ALL[@]}"; do
    head -n 1 "$WORK/$name.key" | grep -q -- "-----BEGIN PRIVATE KEY-----" || fail "$name.key is not PKCS#8"
done

mkdir -p "$WORK/credentials/bookinfo-credential" "$WORK/credentials/bookinfo-credential-cacert" \
         "$WORK/credentials/wildcard-credential" "$WORK/credentials/upstream-client-credential" "$WORK/workload"
cp "$WORK/bookinfo.crt" "$WORK/credentials/bookinfo-credential/tls.crt"
cp "$WORK/bookinfo.key" "$WORK/credentials/bookinfo-credential/tls.key"
cp "$WORK/ca.crt" "$WORK/credentials/bookinfo-credential/ca.crt"
cp "$WORK/ca.crt" "$WORK/credentials/bookinfo-credential-cacert/ca.crt"
cp "$WORK/wildcard.crt" "$WORK/credentials/wildcard-credential/tls.crt"
cp "$WORK/wildcard.key" "$WORK/credentials/wildcard-credential/tls.key"
cp "$WORK/client.crt" "$WORK/credentials/upstream-client-credential/tls.crt"
cp "$WORK/client.key" "$WORK/credentials/upstream-client-credential/tls.key"
cp "$WORK/ca.crt" "$WORK/credentials/upstream-client-credential/ca.crt"
cp "$WORK/workload.crt" "$WORK/workload/cert-chain.pem"
cp "$WORK/workload.key" "$WORK/workload/key.pem"
cp "$WORK/ca.crt" "$WORK/workload/root-cert.pem"
chmod 600 "$WORK"/*.key "$WORK"/credentials/*/tls.key "$WORK/workload/key.pem"

rm -f "$OUT/.complete"
for name in "${ALL[@]}"; do
    mv -f "$WORK/$name.crt" "$WORK/$name.key" "$OUT/"
done
rm -rf "$OUT/credentials" "$OUT/workload"
mv "$WORK/credentials" "$OUT/credentials"
mv "$WORK/workload" "$OUT/workload"
touch "$OUT/.complete"
