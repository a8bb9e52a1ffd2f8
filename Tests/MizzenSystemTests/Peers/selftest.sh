#!/usr/bin/env bash
# Checks the peer programs against each other on loopback, without Mizzen.
#
#   selftest.sh
#
# Needs python3 with grpcio and h2 (requirements.txt), openssl and curl.
# Uses nghttpd (Debian nghttp2-server) for the rapid-reset check when present.
# Ends with the line "N passed, N failed"; exit status 0 only when none failed.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT

passed=0
failed=0
check() {  # check NAME COMMAND...
    local name=$1; shift
    if "$@" >"$WORK/check.out" 2>&1; then
        passed=$((passed + 1)); echo "ok   $name"
    else
        failed=$((failed + 1)); echo "FAIL $name"; sed 's/^/     /' "$WORK/check.out" | tail -20
    fi
}

start() {  # start VAR PROGRAM ARGS... : runs a peer, waits for READY, sets VAR to its port
    local var=$1; shift
    local out="$WORK/$var.out"
    python3 "$HERE/$1" "${@:2}" --parent-pid $$ >"$out" 2>"$WORK/$var.err" &
    PIDS+=($!)
    for _ in $(seq 100); do
        if grep -q '^READY ' "$out"; then
            printf -v "$var" '%s' "$(awk '/^READY /{print $2}' "$out")"
            return 0
        fi
        sleep 0.1
    done
    echo "selftest: $1 did not get ready" >&2; cat "$WORK/$var.err" >&2
    exit 1
}

json_has() {  # json_has 'python expression over d' < json
    python3 -c "import json,sys; d=json.loads(sys.stdin.readline()); sys.exit(0 if ($1) else 1)"
}
export -f json_has

bash "$HERE/certs.sh" "$WORK/pki" || { echo "selftest: certs.sh failed"; exit 1; }
PKI=$WORK/pki

start UP upstream.py --name up1 --log "$WORK/up.log"
start UPTLS upstream.py --name uptls --tls-cert "$PKI/bookinfo.crt" --tls-key "$PKI/bookinfo.key"
start UPBAD upstream.py --name bad --status 500 --log "$WORK/bad.log"
start UPSLOW upstream.py --name slow --delay-ms 300
start UPMTLS upstream.py --name upmtls --tls-cert "$PKI/upstream.crt" --tls-key "$PKI/upstream.key" \
    --tls-client-ca "$PKI/ca.crt" --log "$WORK/mtls.log"
start UPALPN upstream.py --name upalpn --tls-cert "$PKI/upstream.crt" --tls-key "$PKI/upstream.key" --alpn h2,http/1.1
start GRPC grpc_echo.py --name g1
start TCP tcp_echo.py --banner hello
start TLSECHO tcp_echo.py --tls-cert "$PKI/passthrough.crt" --tls-key "$PKI/passthrough.key"

# upstream.py
check "upstream echo JSON" bash -c "curl -sf http://127.0.0.1:$UP/some/path?q=1 | json_has 'd[\"upstream\"]==\"up1\" and d[\"path\"]==\"/some/path?q=1\"'"
check "upstream x-upstream header" bash -c "curl -sfI http://127.0.0.1:$UP/ | grep -qi '^x-upstream: up1'"
check "upstream /bytes" bash -c "curl -sf http://127.0.0.1:$UP/bytes/300000 | python3 -c 'import sys; d=sys.stdin.buffer.read(); sys.exit(0 if d==bytes(i%251 for i in range(300000)) else 1)'"
check "upstream /chunked" bash -c "curl -sf -D $WORK/h http://127.0.0.1:$UP/chunked/300001 | python3 -c 'import sys; d=sys.stdin.buffer.read(); sys.exit(0 if d==bytes(i%251 for i in range(300001)) else 1)' && grep -qi 'transfer-encoding: chunked' $WORK/h"
head -c 2500000 /dev/urandom >"$WORK/body.bin"
SUM=$(sha256sum "$WORK/body.bin" | cut -d' ' -f1)
check "upstream chunked upload sha256" bash -c "curl -sf -H 'Transfer-Encoding: chunked' --data-binary @$WORK/body.bin http://127.0.0.1:$UP/up | grep -q '\"body_length\": 2500000, \"body_sha256\": \"$SUM\"'"
check "upstream content-length upload sha256" bash -c "curl -sf --data-binary @$WORK/body.bin http://127.0.0.1:$UP/up | grep -q '\"body_sha256\": \"$SUM\"'"
check "upstream /status/503" bash -c "test \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$UP/status/503)\" = 503"
check "upstream /delay/300" bash -c "curl -s -o /dev/null -w '%{time_total}' http://127.0.0.1:$UP/delay/300 | python3 -c 'import sys; sys.exit(0 if float(sys.stdin.read())>=0.3 else 1)'"
check "upstream /headers-large" bash -c "curl -sf -D - -o /dev/null http://127.0.0.1:$UP/headers-large | grep -q '^x-large: a\{16384\}'"
check "upstream keep-alive" bash -c "curl -sf -o /dev/null -o /dev/null -w '%{num_connects}\n' http://127.0.0.1:$UP/a http://127.0.0.1:$UP/b | tr '\n' ' ' | grep -q '^1 0 \$'"
check "upstream log lines" bash -c "grep -q '\"event\":\"connection\"' $WORK/up.log && grep -q '\"event\":\"request\"' $WORK/up.log"
check "upstream HTTPS" bash -c "curl -sf --cacert $PKI/ca.crt --resolve bookinfo.example.com:$UPTLS:127.0.0.1 https://bookinfo.example.com:$UPTLS/ | grep -q uptls"
check "upstream --status 500 (echo JSON)" bash -c "test \"\$(curl -s -o $WORK/bad.json -w '%{http_code}' http://127.0.0.1:$UPBAD/any)\" = 500 && json_has 'd[\"upstream\"]==\"bad\" and d[\"path\"]==\"/any\"' < $WORK/bad.json"
check "upstream /flaky/KEY/N/CODE" bash -c "for want in 503:1 503:2 200:3 200:4; do got=\$(curl -s -w ' %{http_code}' http://127.0.0.1:$UP/flaky/k1/2/503); test \"\${got##* }\" = \"\${want%%:*}\" || exit 1; echo \"\${got% *}\" | json_has \"d['attempt']==\${want##*:}\" || exit 1; done"
check "upstream /flaky counts per key" bash -c "test \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$UP/flaky/other/1/409)\" = 409"
check "upstream /flaky-delay/KEY/N/MS" bash -c "a=\$(curl -s -o /dev/null -w '%{time_total}' http://127.0.0.1:$UP/flaky-delay/d1/1/300); b=\$(curl -s -o /dev/null -w '%{time_total}' http://127.0.0.1:$UP/flaky-delay/d1/1/300); python3 -c \"import sys; sys.exit(0 if \$a>=0.3 and \$b<0.25 else 1)\""
check "upstream /response-headers" bash -c "curl -sf -D $WORK/rh -o /dev/null 'http://127.0.0.1:$UP/response-headers?x-a=1&x-a=2&x-b=three' && test \"\$(grep -ci '^x-a: ' $WORK/rh)\" = 2 && grep -qi '^x-b: three' $WORK/rh"
check "upstream --delay-ms" bash -c "curl -s -o /dev/null -w '%{time_total}' http://127.0.0.1:$UPSLOW/ | python3 -c 'import sys; sys.exit(0 if float(sys.stdin.read())>=0.3 else 1)'"
check "upstream TLS details + client cert (--tls-client-ca)" bash -c "curl -sf --cacert $PKI/ca.crt --cert $PKI/client.crt --key $PKI/client.key --resolve upstream.internal:$UPMTLS:127.0.0.1 https://upstream.internal:$UPMTLS/t | json_has 'd[\"tls\"][\"sni\"]==\"upstream.internal\" and d[\"tls\"][\"alpn\"]==\"http/1.1\" and d[\"tls\"][\"client_subject\"][\"commonName\"]==\"client.example.com\" and [\"URI\",\"spiffe://cluster.local/ns/default/sa/client\"] in d[\"tls\"][\"client_san\"]'"
check "upstream --tls-client-ca refuses a missing client cert" bash -c "! curl -sf --cacert $PKI/ca.crt --resolve upstream.internal:$UPMTLS:127.0.0.1 https://upstream.internal:$UPMTLS/t && grep -q '\"event\":\"tls_error\"' $WORK/mtls.log"
check "upstream --tls-client-ca refuses an untrusted client cert" bash -c "! curl -sf --cacert $PKI/ca.crt --cert $PKI/untrusted-client.crt --key $PKI/untrusted-client.key --resolve upstream.internal:$UPMTLS:127.0.0.1 https://upstream.internal:$UPMTLS/t"
check "upstream --alpn h2,http/1.1 (http/1.1 chosen by an h1 client)" bash -c "curl -sf --http1.1 --cacert $PKI/ca.crt --resolve upstream.internal:$UPALPN:127.0.0.1 https://upstream.internal:$UPALPN/ | json_has 'd[\"tls\"][\"alpn\"]==\"http/1.1\" and d[\"tls\"][\"client_subject\"] is None'"
check "upstream TLS: no SNI is null" bash -c "curl -sf --http1.1 -k https://127.0.0.1:$UPALPN/ | json_has 'd[\"tls\"][\"sni\"] is None'"
check "upstream log: open_connections ignores connections the peer closed" bash -c "curl -sf -o /dev/null http://127.0.0.1:$UPBAD/a; curl -s -o /dev/null http://127.0.0.1:$UPBAD/b; grep '\"event\":\"connection\"' $WORK/bad.log | tail -1 | json_has 'd[\"open_connections\"]==1'"
check "http_load: concurrent keep-alive clients, in_flight logged" bash -c "python3 $HERE/http_load.py --port $UP --path '/delay/200?load={n}' --connections 3 --requests 2 | json_has 'd[\"statuses\"]=={\"200\":6} and d[\"connections_opened\"]==3 and d[\"errors\"]==0 and all(r[\"upstream\"]==\"up1\" for r in d[\"results\"])' && python3 -c 'import json,sys; e=[json.loads(l) for l in open(sys.argv[1])]; m=max(x[\"in_flight\"] for x in e if x[\"event\"]==\"request\" and \"load=\" in x[\"target\"]); sys.exit(0 if m>=2 else 1)' $WORK/up.log"
check "http_load: headers, authority, POST body, pause" bash -c "python3 $HERE/http_load.py --port $UP --path /p --authority a.test --method POST --body-bytes 1000 --header 'x-k: v' --requests 2 --pause-ms 200 | json_has 'len(d[\"results\"])==2 and d[\"connections_opened\"]==1 and d[\"results\"][1][\"start\"]>=0.2 and [\"Host\",\"a.test\"] in __import__(\"json\").loads(d[\"results\"][0][\"body\"])[\"headers\"] and __import__(\"json\").loads(d[\"results\"][0][\"body\"])[\"body_length\"]==1000'"
check "http_load: a refused port gives status 0 with an error" bash -c "python3 $HERE/http_load.py --port 1 --requests 2 | json_has 'd[\"statuses\"]=={\"0\":2} and d[\"errors\"]==2'"

# ws_client.py against upstream.py
check "ws_client -> upstream" python3 "$HERE/ws_client.py" --port "$UP" --path /ws --messages 10
check "ws_client wss -> upstream TLS" python3 "$HERE/ws_client.py" --port "$UPTLS" --tls --ca "$PKI/ca.crt" --authority bookinfo.example.com
check "ws_client fails on a non-WebSocket server" bash -c "! python3 $HERE/ws_client.py --port $TCP --timeout 3"

# gRPC
check "grpc_client -> grpc_echo" python3 "$HERE/grpc_client.py" --target "127.0.0.1:$GRPC"
check "grpc_client --authority" python3 "$HERE/grpc_client.py" --target "127.0.0.1:$GRPC" --authority grpc.example.com say
check "grpc_client fails on a dead port" bash -c "! python3 $HERE/grpc_client.py --target 127.0.0.1:1 --timeout 2"

# tcp_echo.py
check "tcp_echo banner + echo" python3 - "$TCP" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
f = s.makefile("rb")
assert f.readline() == b"hello\n"
s.sendall(b"x" * 100000)
got = b""
while len(got) < 100000:
    got += s.recv(65536)
assert got == b"x" * 100000
EOF
check "tcp_echo TLS reports SNI (openssl s_client)" bash -c "(echo ping; sleep 0.5) | timeout 10 openssl s_client -connect 127.0.0.1:$TLSECHO -servername passthrough.example.net -CAfile $PKI/ca.crt -verify_return_error -quiet -no_ign_eof 2>/dev/null | head -1 | grep -qx 'SNI passthrough.example.net'"
check "tcp_echo TLS without SNI" bash -c "(echo ping; sleep 0.5) | timeout 10 openssl s_client -connect 127.0.0.1:$TLSECHO -noservername -quiet -no_ign_eof 2>/dev/null | head -1 | grep -qx 'SNI -'"

# certs.sh
check "certs: client SAN" bash -c "openssl x509 -in $PKI/client.crt -noout -ext subjectAltName | grep -q 'URI:spiffe://cluster.local/ns/default/sa/client, DNS:client.example.com'"
check "certs: untrusted client does not verify" bash -c "! openssl verify -CAfile $PKI/ca.crt $PKI/untrusted-client.crt"
check "certs: upstream SAN" bash -c "openssl x509 -in $PKI/upstream.crt -noout -ext subjectAltName | grep -q 'DNS:upstream.internal, URI:spiffe://cluster.local/ns/default/sa/upstream'"
check "certs: workload files (cert-chain, key, root-cert)" bash -c "openssl verify -CAfile $PKI/workload/root-cert.pem $PKI/workload/cert-chain.pem && openssl x509 -in $PKI/workload/cert-chain.pem -noout -ext extendedKeyUsage | grep -q 'TLS Web Client Authentication' && cmp -s $PKI/workload/key.pem $PKI/workload.key"
check "certs: upstream-client-credential" bash -c "cmp -s $PKI/credentials/upstream-client-credential/tls.crt $PKI/client.crt && cmp -s $PKI/credentials/upstream-client-credential/ca.crt $PKI/ca.crt"
check "certs: idempotent" bash -c "before=\$(sha256sum $PKI/ca.crt) && bash $HERE/certs.sh $PKI && test \"\$before\" = \"\$(sha256sum $PKI/ca.crt)\""

# h2_rapid_reset.py
check "h2_rapid_reset (grpc_echo, no GOAWAY)" bash -c "python3 $HERE/h2_rapid_reset.py --port $GRPC --authority a --streams 200 | json_has 'd[\"streams_sent\"]==200 and d[\"ping_acked\"]'"
if command -v nghttpd >/dev/null; then
    NGPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    mkdir -p "$WORK/www"
    nghttpd --no-tls -a 127.0.0.1 -d "$WORK/www" "$NGPORT" >/dev/null 2>&1 &
    PIDS+=($!)
    sleep 0.5
    check "h2_rapid_reset (nghttpd sends GOAWAY)" bash -c "python3 $HERE/h2_rapid_reset.py --port $NGPORT --authority a --streams 5000 | json_has 'd[\"goaway_received\"]'"
else
    echo "skip h2_rapid_reset against nghttpd (not installed)"
fi

# h2_upstream.py (curl with --http2-prior-knowledge)
start H2UP h2_upstream.py --name h2a --log "$WORK/h2up.log"
check "h2_upstream echo JSON" bash -c "head -c 5000 /dev/zero | curl -sf --http2-prior-knowledge --data-binary @- -D $WORK/h2h 'http://127.0.0.1:$H2UP/echo?q=1' | json_has 'd[\"upstream\"]==\"h2a\" and d[\"protocol\"]==\"HTTP/2\" and d[\"method\"]==\"POST\" and d[\"path\"]==\"/echo?q=1\" and d[\"body_length\"]==5000 and [\":authority\",\"127.0.0.1:$H2UP\"] in d[\"headers\"]' && grep -qi '^x-upstream: h2a' $WORK/h2h"
check "h2_upstream /rst: RST_STREAM(INTERNAL_ERROR)" bash -c "curl -sv --http2-prior-knowledge http://127.0.0.1:$H2UP/rst 2>&1 | grep -q 'INTERNAL_ERROR (err 2)'"
check "h2_upstream /refuse/KEY/N: REFUSED_STREAM twice (curl retries), then attempt 3" bash -c "curl -sf --http2-prior-knowledge http://127.0.0.1:$H2UP/refuse/r1/2 | json_has 'd[\"attempt\"]==3' && test \"\$(grep -c '\"path\":\"/refuse/r1/2\".*\"action\":\"refused_stream\"' $WORK/h2up.log)\" = 2"
check "h2_upstream /goaway: GOAWAY(NO_ERROR, last_stream=0)" bash -c "curl -sv --http2-prior-knowledge http://127.0.0.1:$H2UP/goaway 2>&1 | grep -q 'GOAWAY, error=0, last_stream=0'"
check "h2_upstream log lines" bash -c "grep -q '\"event\":\"connection\",\"upstream\":\"h2a\"' $WORK/h2up.log && grep '\"path\":\"/echo?q=1\"' $WORK/h2up.log | json_has 'd[\"body_length\"]==5000 and d[\"stream_id\"]==1 and d[\"action\"]==\"response\"'"

# h2_window_probe.py against h2_upstream.py (which reads every body: everything goes through)
check "h2_window_probe: a consuming server takes every byte" bash -c "python3 $HERE/h2_window_probe.py --port $H2UP --streams 30 --bytes-per-stream 200000 --seconds 1 | json_has 'd[\"ok\"] and d[\"sent\"]==6000000 and d[\"per_stream\"]==[200000]*30 and d[\"resets\"]==0 and not d[\"goaway\"]'"
check "h2_window_probe fails on a dead port" bash -c "! python3 $HERE/h2_window_probe.py --port 1 --seconds 0.1"

# blackhole.py: connects hang until the client's timeout
start BH blackhole.py
check "blackhole: connect times out (no connect, no refusal)" python3 -c "
import socket, sys, time
s = socket.socket(); s.settimeout(1); t = time.time()
try:
    s.connect(('127.0.0.1', $BH)); sys.exit('connected')
except socket.timeout:
    sys.exit(0 if time.time() - t >= 0.9 else 'timed out too early')
"
check "blackhole: curl --connect-timeout gives up (exit 28)" bash -c "curl -s --connect-timeout 1 http://127.0.0.1:$BH/; test \$? = 28"

echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
