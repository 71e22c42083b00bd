#!/usr/bin/env bash
# RFC 3161 timestamp tokens on evidence bundles, against a real PostgreSQL
# and a local TSA: a throwaway CA and TSA certificate (extendedKeyUsage
# critical timeStamping) made with openssl in the test's directory, and a
# small HTTP responder answering with `openssl ts -reply`
# (lib/tsa_responder.py). The bundle's timestamp.tsr is checked by custos
# evidence verify and by `openssl ts -verify` (an independent reader); a
# token for another digest, one signed under another CA and a truncated one
# are each caught with their message; a bundle without a token verifies and
# says "no timestamp". A TSA that is down, hangs, answers too much or
# answers garbage: with forensics.tsa_required on the export fails and
# leaves no file and no audit row; off, the bundle is written without a
# token, which the export says and audits.
. "$(dirname "$0")/../../lib/env.sh"

t_db
C="$CUSTOS_BIN"
export CUSTOS_AUDIT_SIGNING_KEY="$T_DIR/signing.key"
t_sql "$(cat "$(dirname "$0")/lib/fixture.sql")" >/dev/null
"$C" keys init >/dev/null
"$C" keys public >"$T_DIR/pub.txt"

# ---- a CA, a TSA under it, and another CA with its own TSA ----
A="$T_DIR/tsa"
mkdir "$A"
cat >"$A/ca.ext" <<'X'
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
X
cat >"$A/tsa.ext" <<'X'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
X
# mkca NAME: a self-signed CA; mktsa NAME CA: a TSA certificate under CA.
mkca() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=custos test $1" -keyout "$A/$1.key" -out "$A/$1.pem" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}
mktsa() {
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=custos test $1" \
        -keyout "$A/$1.key" -out "$A/$1.csr" 2>/dev/null
    openssl x509 -req -in "$A/$1.csr" -CA "$A/$2.pem" -CAkey "$A/$2.key" -set_serial "0x$(openssl rand -hex 8)" \
        -days 2 -extfile "$A/tsa.ext" -out "$A/$1.pem" 2>/dev/null
}
mkca ca && mktsa tsa ca && mkca other-ca && mktsa other-tsa other-ca || t_fail "making the test CA and TSA"
openssl x509 -in "$A/tsa.pem" -noout -ext extendedKeyUsage | grep -q "critical" || t_fail "the TSA certificate's EKU is not critical"
echo 01 >"$A/serial"
cat >"$A/tsa.cnf" <<X
[ tsa_config1 ]
dir = $A
serial = \$dir/serial
crypto_device = builtin
signer_cert = \$dir/tsa.pem
signer_key = \$dir/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.4146.2.2
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
X
t_start tsa python3 "$(dirname "$0")/lib/tsa_responder.py" "$A" "$T_DIR/tsa.port"
deadline=$((SECONDS + 60))
while [ ! -s "$T_DIR/tsa.port" ]; do
    [ "$SECONDS" -lt "$deadline" ] || t_fail "the TSA responder did not start: $(cat "$T_DIR/tsa.log")"
    kill -0 "$T_LAST_PID" 2>/dev/null || t_fail "the TSA responder exited: $(cat "$T_DIR/tsa.log")"
    sleep 0.2
done
TSA="http://127.0.0.1:$(cat "$T_DIR/tsa.port")"
export CUSTOS_FORENSICS_TSA_URL="$TSA/tsa" CUSTOS_FORENSICS_TSA_CA_FILE="$A/ca.pem"

# ---- a stamped export ----
B="$T_DIR/inc.tar"
"$C" evidence export --incident inc-fx-1 -o "$B" >"$T_DIR/export.out" || t_fail "export failed"
grep -q "^timestamp token from the TSA at 20[0-9-]*T[0-9:]*Z (timestamp.tsr)$" "$T_DIR/export.out" || t_fail "export said: $(cat "$T_DIR/export.out")"
[ "$(tar -tf "$B" | tr '\n' ' ')" = "incident.json events.ndjson alerts.ndjson actions.ndjson audit.ndjson manifest.json manifest.sig timestamp.tsr " ] \
    || t_fail "bundle entries: $(tar -tf "$B" | tr '\n' ' ')"
mkdir "$T_DIR/x" && tar -xf "$B" -C "$T_DIR/x"
msha=$(sha256sum "$T_DIR/x/manifest.json" | cut -d' ' -f1)
# An independent reader: openssl ts -verify over the manifest's digest.
openssl ts -verify -in "$T_DIR/x/timestamp.tsr" -digest "$msha" -CAfile "$A/ca.pem" >"$T_DIR/ossl.out" 2>&1 \
    && grep -q "Verification: OK" "$T_DIR/ossl.out" || t_fail "openssl ts -verify: $(cat "$T_DIR/ossl.out")"
set +e
openssl ts -verify -in "$T_DIR/x/timestamp.tsr" -digest "$msha" -CAfile "$A/other-ca.pem" >/dev/null 2>&1; rc=$?
set -e
[ "$rc" != 0 ] || t_fail "openssl verified the token against the other CA"
# The export's audit row names the token (its time and SHA-256).
tsha=$(sha256sum "$T_DIR/x/timestamp.tsr" | cut -d' ' -f1)
got=$(t_sql "SELECT (detail::jsonb->>'manifest_sha256') || ' ' || (detail::jsonb->'timestamp'->>'sha256') FROM audit_log WHERE event = 'evidence_exported' ORDER BY seq DESC LIMIT 1")
[ "$got" = "$msha $tsha" ] || t_fail "export audit row: [$got], want [$msha $tsha]"

# ---- verify, offline ----
CUSTOS_POSTGRES_DSN="host=/nonexistent dbname=none" "$C" evidence verify "$B" --pubkey "$T_DIR/pub.txt" --tsa-ca "$A/ca.pem" >"$T_DIR/v.out" \
    || t_fail "the stamped bundle does not verify: $(cat "$T_DIR/v.out")"
grep -q "timestamp: .* by /CN=custos test tsa, for the manifest's SHA-256; signature verified against $A/ca.pem" "$T_DIR/v.out" \
    || t_fail "verify said: $(cat "$T_DIR/v.out")"
cat "$T_DIR/v.out" >&2
"$C" evidence verify "$B" --pubkey "$T_DIR/pub.txt" >"$T_DIR/v.out" || t_fail "without --tsa-ca: $(cat "$T_DIR/v.out")"
grep -q "its signature is not checked (give --tsa-ca FILE)" "$T_DIR/v.out" || t_fail "verify without --tsa-ca said: $(cat "$T_DIR/v.out")"

# Another bundle (another manifest: the first export moved the audit head),
# and one stamped by the other CA's TSA (no CA at export, so it is taken).
"$C" evidence export --incident inc-fx-1 -o "$T_DIR/second.tar" >/dev/null
CUSTOS_FORENSICS_TSA_URL="$TSA/other" CUSTOS_FORENSICS_TSA_CA_FILE= "$C" evidence export --incident inc-fx-1 -o "$T_DIR/other.tar" >/dev/null \
    || t_fail "the export stamped under the other CA failed"
# ... which the export itself refuses when it knows the CA.
set +e
CUSTOS_FORENSICS_TSA_URL="$TSA/other" CUSTOS_FORENSICS_TSA_REQUIRED=on "$C" evidence export --incident inc-fx-1 -o "$T_DIR/refused.tar" >/dev/null 2>"$T_DIR/err.txt"; rc=$?
set -e
[ "$rc" = 1 ] && [ ! -e "$T_DIR/refused.tar" ] && grep -q "no timestamp token (forensics.tsa_required is on): the TSA's answer does not hold" "$T_DIR/err.txt" \
    || t_fail "a token under another CA was taken at export: rc $rc, $(cat "$T_DIR/err.txt")"

# tsr.py SRC DST MODE [DONOR]: rewrites the bundle's timestamp.tsr.
cat >"$T_DIR/tsr.py" <<'PY'
import io, sys, tarfile
src, dst, mode = sys.argv[1:4]
def read(p):
    with tarfile.open(p) as t:
        return [[m.name, t.extractfile(m).read()] for m in t.getmembers()]
files = read(src)
if mode == "other_digest":
    donor = dict(read(sys.argv[4]))["timestamp.tsr"]
    files = [[n, donor if n == "timestamp.tsr" else d] for n, d in files]
elif mode == "truncate":
    files = [[n, d[: len(d) // 2] if n == "timestamp.tsr" else d] for n, d in files]
elif mode == "remove":
    files = [f for f in files if f[0] != "timestamp.tsr"]
out = tarfile.open(dst, "w", format=tarfile.USTAR_FORMAT)
for name, data in files:
    ti = tarfile.TarInfo(name); ti.size = len(data); ti.mtime = 0; out.addfile(ti, io.BytesIO(data))
out.close()
PY
printf '\n%-26s | %-80s | %s\n' "change" "expected message" "result" >"$T_DIR/table.txt"
failed=0
# row NAME FILE EXPECTED_RC EXPECTED [verify options...]
row() {
    local name=$1 f=$2 want_rc=$3 expect=$4 res; shift 4
    set +e
    "$C" evidence verify "$f" --pubkey "$T_DIR/pub.txt" "$@" >"$T_DIR/v-$name.out" 2>&1; local rc=$?
    set -e
    if [ "$rc" = "$want_rc" ] && grep -qF -- "$expect" "$T_DIR/v-$name.out"; then res="caught"
        [ "$want_rc" = 0 ] && res="verifies"
    else res="WRONG (rc $rc: $(head -n2 "$T_DIR/v-$name.out" | tr '\n' ' '))"; failed=1; fi
    printf '%-26s | %-80s | %s\n' "$name" "$expect" "$res" >>"$T_DIR/table.txt"
}
python3 "$T_DIR/tsr.py" "$B" "$T_DIR/t-digest.tar" other_digest "$T_DIR/second.tar"
python3 "$T_DIR/tsr.py" "$B" "$T_DIR/t-cut.tar" truncate
python3 "$T_DIR/tsr.py" "$B" "$T_DIR/t-none.tar" remove
row token_other_digest "$T_DIR/t-digest.tar" 1 "timestamp token is for another digest" --tsa-ca "$A/ca.pem"
row token_other_digest_noca "$T_DIR/t-digest.tar" 1 "timestamp token is for another digest"
row token_other_ca "$T_DIR/other.tar" 1 "timestamp token signature does not verify with the TSA CA $A/ca.pem" --tsa-ca "$A/ca.pem"
row token_truncated "$T_DIR/t-cut.tar" 1 "timestamp.tsr is not a timestamp token (damaged or cut)"
row token_removed "$T_DIR/t-none.tar" 0 "no timestamp (the bundle has no timestamp.tsr)"
row token_removed_ca_asked "$T_DIR/t-none.tar" 1 "the bundle has no timestamp.tsr (no timestamp), but --tsa-ca asks for one" --tsa-ca "$A/ca.pem"
cat "$T_DIR/table.txt"
for f in "$T_DIR"/v-token_*.out; do printf '%s: %s\n' "$(basename "$f" .out)" "$(grep -m1 -e FAIL -e 'timestamp' "$f")" >&2; done
[ "$failed" = 0 ] || t_fail "a timestamp check gave the wrong answer"
# The other CA's bundle is whole otherwise: its token verifies with its CA.
"$C" evidence verify "$T_DIR/other.tar" --pubkey "$T_DIR/pub.txt" --tsa-ca "$A/other-ca.pem" >/dev/null || t_fail "the other CA's bundle does not verify with its CA"

# ---- the TSA's certificate is judged as of the token's time, not now ----
# A TSA certificate under the same CA that becomes valid a few seconds
# after it signs a token (openssl ts -reply signs with it anyway): once its
# notBefore has passed it is valid now, but it was not when the token was
# made, so the token must be refused. openssl ts -verify, which checks as
# of now, takes it: the contrast shows which time each reader uses.
cat >"$A/ca.cnf" <<X
[ ca ]
default_ca = test_ca
[ test_ca ]
dir = $A
database = \$dir/index.txt
new_certs_dir = \$dir/newcerts
serial = \$dir/ca.serial
default_md = sha256
policy = any_cn
unique_subject = no
[ any_cn ]
commonName = supplied
X
mkdir -p "$A/newcerts" && : >"$A/index.txt" && echo 1000 >"$A/ca.serial"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=custos test late-tsa" \
    -keyout "$A/late-tsa.key" -out "$A/late-tsa.csr" 2>/dev/null
# a token made before the certificate's notBefore: the margin grows when
# this machine was too slow to export within it
margin=4 late_ok=0
for _ in 1 2 3 4; do
    nb=$(($(date +%s) + margin))
    openssl ca -batch -config "$A/ca.cnf" -cert "$A/ca.pem" -keyfile "$A/ca.key" -in "$A/late-tsa.csr" \
        -out "$A/late-tsa.pem" -startdate "$(date -u -d "@$nb" +%Y%m%d%H%M%SZ)" \
        -enddate "$(date -u -d "@$((nb + 86400))" +%Y%m%d%H%M%SZ)" -extfile "$A/tsa.ext" -notext >/dev/null 2>&1 \
        || t_fail "making the late TSA certificate"
    rm -f "$T_DIR/late.tar"
    CUSTOS_FORENSICS_TSA_URL="$TSA/late" CUSTOS_FORENSICS_TSA_CA_FILE= "$C" evidence export --incident inc-fx-1 \
        -o "$T_DIR/late.tar" >"$T_DIR/late.out" || t_fail "the export stamped by the late TSA failed"
    ttime=$(sed -nE 's/^timestamp token from the TSA at ([0-9T:-]+Z) .*/\1/p' "$T_DIR/late.out")
    [ -n "$ttime" ] || t_fail "the late export said: $(cat "$T_DIR/late.out")"
    if [ "$(date -u -d "$ttime" +%s)" -lt "$nb" ]; then late_ok=1; break; fi
    margin=$((margin * 2))
done
[ "$late_ok" = 1 ] || t_fail "no token made before the late certificate's notBefore, with margins up to $margin s"
deadline=$((SECONDS + 120))
while [ "$(date +%s)" -le "$nb" ]; do
    [ "$SECONDS" -lt "$deadline" ] || t_fail "the clock did not pass $nb"
    sleep 0.2
done
mkdir "$T_DIR/late" && tar -xf "$T_DIR/late.tar" -C "$T_DIR/late"
lsha=$(sha256sum "$T_DIR/late/manifest.json" | cut -d' ' -f1)
openssl ts -verify -in "$T_DIR/late/timestamp.tsr" -digest "$lsha" -CAfile "$A/ca.pem" >"$T_DIR/ossl-late.out" 2>&1 \
    || t_fail "openssl (as of now) refused the late token: $(cat "$T_DIR/ossl-late.out")"
set +e
"$C" evidence verify "$T_DIR/late.tar" --pubkey "$T_DIR/pub.txt" --tsa-ca "$A/ca.pem" >"$T_DIR/v-late.out" 2>&1; rc=$?
set -e
[ "$rc" = 1 ] && grep -qF "timestamp token signature does not verify with the TSA CA $A/ca.pem" "$T_DIR/v-late.out" \
    && grep -qi "not yet valid" "$T_DIR/v-late.out" \
    || t_fail "a token signed before its TSA certificate was valid: rc $rc, $(cat "$T_DIR/v-late.out")"
t_log "refused as it should (token $ttime, certificate valid from $(date -u -d "@$nb" +%H:%M:%SZ)): $(grep -m1 'timestamp' "$T_DIR/v-late.out")"

set +e
"$C" evidence verify "$B" --tsa-ca "$T_DIR/nonexistent.pem" >/dev/null 2>"$T_DIR/err.txt"; rc=$?
set -e
[ "$rc" = 1 ] && grep -q "cannot read the TSA CA file" "$T_DIR/err.txt" || t_fail "a missing CA file: rc $rc, $(cat "$T_DIR/err.txt")"

# ---- a TSA that is down, hangs, answers too much or garbage ----
exports_before=$(t_sql "SELECT count(*) FROM audit_log WHERE event = 'evidence_exported'")
DOWN="http://127.0.0.1:$(t_free_port)/tsa"
# refused URL EXPECTED [env...]: with tsa_required on, the export fails, no file.
refused() {
    local url=$1 expect=$2 f="$T_DIR/r.tar" rc; shift 2
    set +e
    env CUSTOS_FORENSICS_TSA_URL="$url" CUSTOS_FORENSICS_TSA_REQUIRED=on "$@" "$C" evidence export --incident inc-fx-1 -o "$f" >/dev/null 2>"$T_DIR/err.txt"; rc=$?
    set -e
    [ "$rc" = 1 ] && [ ! -e "$f" ] && grep -qF -- "$expect" "$T_DIR/err.txt" || t_fail "TSA $url: rc $rc, $(cat "$T_DIR/err.txt")"
    t_log "refused as it should: $(cat "$T_DIR/err.txt")"
}
refused "$DOWN" "no timestamp token (forensics.tsa_required is on): the TSA did not answer: "
refused "$TSA/hang" "(forensics.tsa_timeout_ms)" CUSTOS_FORENSICS_TSA_TIMEOUT_MS=1s
refused "$TSA/big" "the TSA's answer is larger than forensics.tsa_max_bytes (65536)"
refused "$TSA/notts" "the TSA's answer is not a time-stamp response"
[ "$(t_sql "SELECT count(*) FROM audit_log WHERE event = 'evidence_exported'")" = "$exports_before" ] || t_fail "a refused export was audited"
! grep -q "127.0.0.1" "$T_DIR/err.txt" || t_fail "the error names the TSA's URL"
# A URL that is not http(s) stops start-up, naming the setting.
set +e
CUSTOS_FORENSICS_TSA_URL="ftp://127.0.0.1/tsa" "$C" evidence export --incident inc-fx-1 -o "$T_DIR/ftp.tar" >/dev/null 2>"$T_DIR/err.txt"; rc=$?
set -e
[ "$rc" = 3 ] && [ ! -e "$T_DIR/ftp.tar" ] && grep -q "CUSTOS_FORENSICS_TSA_URL: key forensics.tsa_url: the TSA's URL must start with http:// or https://" "$T_DIR/err.txt" \
    || t_fail "an ftp TSA URL: rc $rc, $(cat "$T_DIR/err.txt")"
# Off (the default): the bundle goes without a token, said and audited.
CUSTOS_FORENSICS_TSA_URL="$DOWN" "$C" evidence export --incident inc-fx-1 -o "$T_DIR/unstamped.tar" >/dev/null 2>"$T_DIR/err.txt" \
    || t_fail "with tsa_required off, a TSA down failed the export: $(cat "$T_DIR/err.txt")"
grep -q "warning: the bundle has no timestamp token (forensics.tsa_required is off): the TSA did not answer" "$T_DIR/err.txt" || t_fail "no warning: $(cat "$T_DIR/err.txt")"
! tar -tf "$T_DIR/unstamped.tar" | grep -q timestamp.tsr || t_fail "an unstamped bundle has a timestamp.tsr"
got=$(t_sql "SELECT detail::jsonb->'timestamp'->>'error' FROM audit_log WHERE event = 'evidence_exported' ORDER BY seq DESC LIMIT 1")
case $got in "the TSA did not answer: "*) ;; *) t_fail "the unstamped export's audit row: [$got]" ;; esac
"$C" evidence verify "$T_DIR/unstamped.tar" --pubkey "$T_DIR/pub.txt" >"$T_DIR/v.out" && grep -q "no timestamp" "$T_DIR/v.out" \
    || t_fail "the unstamped bundle: $(cat "$T_DIR/v.out")"
# No TSA configured: no token, no warning, the audit row says null.
CUSTOS_FORENSICS_TSA_URL= "$C" evidence export --incident inc-fx-1 -o "$T_DIR/plain.tar" >/dev/null 2>"$T_DIR/err.txt"
[ ! -s "$T_DIR/err.txt" ] && [ "$(t_sql "SELECT detail::jsonb->'timestamp' FROM audit_log WHERE event = 'evidence_exported' ORDER BY seq DESC LIMIT 1")" = null ] \
    || t_fail "an export without a TSA: $(cat "$T_DIR/err.txt")"

# ---- over HTTP: POST /api/v1/evidence stamps the same way ----
. "$(dirname "$0")/../web/lib/web.sh"
w_user auditor auditor
w_start CUSTOS_FORENSICS_TSA_URL="$TSA/tsa" CUSTOS_FORENSICS_TSA_CA_FILE="$A/ca.pem"
w_signin auditor
w_req POST /api/v1/evidence -b "$W_JAR" -H "X-CSRF-Token: $W_CSRF" -H "Origin: $W_ORIGIN" -H 'Content-Type: application/json' -d '{"incident_id":"inc-fx-1"}'
w_expect 200
[[ "$(w_header X-Timestamp)" =~ ^20[0-9-]+T[0-9:]+Z$ ]] || t_fail "X-Timestamp: [$(w_header X-Timestamp)]"
cp "$W_BODY" "$T_DIR/http.tar"
"$C" evidence verify "$T_DIR/http.tar" --pubkey "$T_DIR/pub.txt" --tsa-ca "$A/ca.pem" >"$T_DIR/v.out" || t_fail "the HTTP bundle: $(cat "$T_DIR/v.out")"
w_stop
w_start CUSTOS_FORENSICS_TSA_URL="$DOWN"
w_signin auditor
w_req POST /api/v1/evidence -b "$W_JAR" -H "X-CSRF-Token: $W_CSRF" -H "Origin: $W_ORIGIN" -H 'Content-Type: application/json' -d '{"incident_id":"inc-fx-1"}'
w_expect 200
case $(w_header X-Timestamp-Error) in "the TSA did not answer: "*) ;; *) t_fail "X-Timestamp-Error: [$(w_header X-Timestamp-Error)]" ;; esac
w_stop
w_start CUSTOS_FORENSICS_TSA_URL="$DOWN" CUSTOS_FORENSICS_TSA_REQUIRED=on
w_signin auditor
w_req POST /api/v1/evidence -b "$W_JAR" -H "X-CSRF-Token: $W_CSRF" -H "Origin: $W_ORIGIN" -H 'Content-Type: application/json' -d '{"incident_id":"inc-fx-1"}'
w_expect 500
w_stop

"$C" audit verify >/dev/null || t_fail "the audit chain does not verify"
t_log "ok: stamped bundle verified by custos and openssl; 4 bad tokens caught (one signed before its certificate was valid); 4 TSA failures refused, one allowed; the same over HTTP"
