# shellcheck shell=bash
# Operations with real tools: feedparser and curl over https with a CA made here (curl over
# HTTP/2), promtool checking /metrics, the 304 counter following newsboat's reloads, and
# goaccess reading the access log. Sourced by run.sh, which calls run_operations in its full
# mode; INTEROP_OPERATIONS=0 leaves it out.

OPS_TOKEN=interop-metrics-token-0123456789

# ops_certificates DIR: a CA, and a certificate for localhost and 127.0.0.1 signed by it.
ops_certificates() {
  local d=$1
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=feedpub interop CA" -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null &&
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
      -keyout "$d/key.pem" -out "$d/req.csr" 2>/dev/null &&
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >"$d/ext.cnf" &&
    openssl x509 -req -in "$d/req.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
      -days 2 -extfile "$d/ext.cnf" -out "$d/cert.pem" 2>/dev/null
}

# ops_config FILE EXTRA...: the suite's configuration with the metrics token and EXTRA lines.
ops_config() {
  local file=$1
  shift
  cat "$WORK/etc/feedpub.toml" >"$file"
  printf 'admin_token = "%s"\n' "$OPS_TOKEN" >>"$file"
  printf '%s\n' "$@" >>"$file"
}

ops_metrics() { # URL FILE: /metrics with the token
  curl -fsS --max-time 20 -H "Authorization: Bearer $OPS_TOKEN" -o "$2" "${@:3}" "$1/metrics"
}

chk_http2() { # URL CA: curl offers HTTP/2 by ALPN and gets it
  local v
  v=$(curl -sS --max-time 20 --http2 --cacert "$2" -o /dev/null -w '%{http_version} %{http_code}' "$1")
  echo "curl: $v"
  [[ $v == "2 200" ]]
}

chk_promtool() { # URL [CURL ARGS...]: promtool check metrics passes on /metrics, with no warning
  local m out
  m=$(tmpfile)
  ops_metrics "$1" "$m" "${@:2}"
  out=$(promtool check metrics <"$m" 2>&1) || {
    echo "$out"
    return 1
  }
  echo "promtool: ${out:-no problem}"
  [[ -z $out ]]
}

chk_304_counter() { # URL NEWSBOAT_DIR: a conditional newsboat reload raises the feed 304 counter
  local m before after series='feedpub_responses_total{route="feed",status="304",encoding="none"}'
  m=$(tmpfile)
  # newsboat keeps a feed's ETag from its second download on (see chk_newsboat_304).
  nb_reload "$2" >/dev/null
  nb_reload "$2" >/dev/null
  ops_metrics "$1" "$m"
  before=$("$PY" "$HERE/lib/operations.py" counter "$m" "$series")
  nb_reload "$2" >/dev/null
  ops_metrics "$1" "$m"
  after=$("$PY" "$HERE/lib/operations.py" counter "$m" "$series")
  echo "$series: $before -> $after after one more newsboat reload"
  ((after > before))
}

chk_goaccess() { # LOG: goaccess --log-format=COMBINED reads every line as a valid request
  local report
  report=$(tmpfile).json
  goaccess "$1" --log-format=COMBINED --no-global-config -o "$report" 2>&1 | tail -n 3
  "$PY" "$HERE/lib/operations.py" goaccess "$report" "$1"
}

run_operations() {
  local O=$WORK/operations tag="[operations]"
  mkdir -p "$O/tls"
  check_here openssl "$tag a test CA and a certificate for localhost" ops_certificates "$O/tls" || return 0
  ops_config "$O/tls.toml" "tls_cert = \"$O/tls/cert.pem\"" "tls_key = \"$O/tls/key.pem\""
  ops_config "$O/plain.toml" "access_log = \"$O/access.log\""
  local port base
  port=$(free_port)
  base=https://localhost:$port
  FEEDPUB_CONFIG=$O/tls.toml FEEDPUB_ADDR=127.0.0.1:$port check_here feedpub "$tag serve over TLS" \
    start_feedpub ops-tls "$ROOT/seeds" "$O/out-tls" "$base" || return 0
  FEEDPUB_CONFIG=$O/plain.toml check_here feedpub "$tag serve with an access log" \
    start_feedpub ops-plain "$ROOT/seeds" "$O/out-plain" http://127.0.0.1:0 || return 0
  local plain=${URL[ops-plain]}
  SSL_CERT_FILE=$O/tls/ca.pem check feedparser "$tag rss.xml over https (test CA): bozo 0, https self link" \
    "$PY" "$HERE/lib/operations.py" fp-https "$base/rss.xml" 20
  SSL_CERT_FILE=$O/tls/ca.pem check feedparser "$tag atom.xml over https (test CA): bozo 0, https self link" \
    "$PY" "$HERE/lib/operations.py" fp-https "$base/atom.xml" 20
  check curl "$tag curl --http2 over TLS gets HTTP/2" chk_http2 "$base/feed.json" "$O/tls/ca.pem"
  check promtool "$tag /metrics over TLS: promtool check metrics, no warning" chk_promtool "$base" --cacert "$O/tls/ca.pem"
  nb_new "$O/newsboat" "$plain/rss.xml" "$plain/atom.xml"
  check newsboat "$tag a newsboat reload raises the 304 counter of /metrics" chk_304_counter "$plain" "$O/newsboat"
  check promtool "$tag /metrics after the readers: promtool check metrics, no warning" chk_promtool "$plain"
  sleep 0.5 # the access log is written off the request path
  cp "$O/access.log" "$OUT/operations-access.log" 2>/dev/null || true
  check goaccess "$tag goaccess --log-format=COMBINED reads every access-log line" chk_goaccess "$O/access.log"
  check feedpub "$tag no error in either server's log" chk_log_clean "${LOG[ops-tls]}" "${LOG[ops-plain]}"
}
