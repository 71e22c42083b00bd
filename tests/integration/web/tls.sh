#!/usr/bin/env bash
# HTTPS through libmicrohttpd's TLS (web.tls_cert, web.tls_key): HSTS on
# every answer, the session cookie Secure with the __Host- prefix, TLS 1.2
# at least; and clear errors for half or unreadable TLS settings.
. "$(dirname "$0")/../../lib/env.sh"
. "$(dirname "$0")/lib/web.sh"

t_db
w_user analyst analyst
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$T_DIR/key.pem" -out "$T_DIR/cert.pem" \
    >/dev/null 2>&1 || t_fail "openssl could not make a test certificate"

# Half the settings, or a missing file: refused at start with the reason.
if CUSTOS_WEB_TLS_CERT="$T_DIR/cert.pem" "$CUSTOS_BIN" web 2>"$T_DIR/e"; then t_fail "started with a cert and no key"; fi
grep -q 'web.tls_cert and web.tls_key go together' "$T_DIR/e" || t_fail "half TLS error: $(cat "$T_DIR/e")"
if CUSTOS_WEB_TLS_CERT="$T_DIR/none.pem" CUSTOS_WEB_TLS_KEY="$T_DIR/key.pem" "$CUSTOS_BIN" web 2>"$T_DIR/e"; then
    t_fail "started with a missing cert"
fi
grep -q "web.tls_cert $T_DIR/none.pem: No such file" "$T_DIR/e" || t_fail "missing cert error: $(cat "$T_DIR/e")"

W_TLS=1
w_start CUSTOS_WEB_TLS_CERT="$T_DIR/cert.pem" CUSTOS_WEB_TLS_KEY="$T_DIR/key.pem"
grep -q 'tls=on' "$T_DIR/web.log" || t_fail "start-up line does not say tls=on"
# Verified against the certificate, not only -k.
grep -q '"ok"' <<<"$(curl -s --cacert "$T_DIR/cert.pem" "$W_BASE/healthz")" || t_fail "HTTPS with the CA fails"
if curl -s -o /dev/null "http://127.0.0.1:$W_PORT/healthz"; then
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$W_PORT/healthz" || true)
    [ "$code" != 200 ] || t_fail "plain HTTP served on the TLS port"
fi
curl -s --cacert "$T_DIR/cert.pem" --tls-max 1.1 -o /dev/null "$W_BASE/healthz" 2>/dev/null &&
    t_fail "TLS 1.1 accepted"
w_signin analyst
sc=$(w_header Set-Cookie)
case $sc in __Host-custos_session=*) ;; *) t_fail "cookie without the __Host- prefix: ${sc%%=*}" ;; esac
grep -q '; Secure' <<<"$sc" || t_fail "cookie not Secure under TLS"
grep -q '; Path=/' <<<"$sc" || t_fail "a __Host- cookie needs Path=/"
if grep -qi 'domain=' <<<"$sc"; then t_fail "a __Host- cookie may not carry Domain"; fi
w_req GET /api/v1/session -b "$W_JAR"
w_expect 200
# The plain cookie name means nothing here.
tokv=$(grep custos_session "$W_JAR" | awk '{print $7}')
w_req GET /api/v1/session -H "Cookie: custos_session=$tokv"
w_expect 401
# Origin must be https://.
w_req DELETE /api/v1/session -b "$W_JAR" -H "X-CSRF-Token: $W_CSRF" -H "Origin: http://127.0.0.1:$W_PORT"
w_expect 403 csrf
w_req DELETE /api/v1/session -b "$W_JAR" -H "X-CSRF-Token: $W_CSRF" -H "Origin: $W_ORIGIN"
w_expect 204
w_stop

# Behind a TLS proxy: plain HTTP here, web.origin https://... there. The
# cookie is Secure and __Host- (the browser sees HTTPS), no HSTS from us
# (the proxy's), and only that exact Origin may change anything.
W_TLS=0
w_start CUSTOS_WEB_ORIGIN=https://soc.example.test
w_signin analyst
sc=$(w_header Set-Cookie)
case $sc in __Host-custos_session=*'; Secure') ;; *) t_fail "proxy mode cookie: ${sc%%=*} ... ${sc##*;}" ;; esac
tokv=$(sed 's/^__Host-custos_session=//; s/;.*//' <<<"$sc")
w_req DELETE /api/v1/session -H "Cookie: __Host-custos_session=$tokv" -H "X-CSRF-Token: $W_CSRF" -H "Origin: $W_ORIGIN"
w_expect 403 csrf # the Host-derived origin is not the configured one
w_req DELETE /api/v1/session -H "Cookie: __Host-custos_session=$tokv" -H "X-CSRF-Token: $W_CSRF" -H "Origin: https://soc.example.test"
w_expect 204
w_stop
t_log "PASS: TLS, HSTS, __Host- Secure cookie, https Origin; behind a proxy with web.origin"
