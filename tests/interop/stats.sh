# shellcheck shell=bash
# shellcheck disable=SC2004 # URL, PID and LOG are associative arrays declared in run.sh
# Subscriber statistics: newsboat, sfeed and feedparser poll one `feedpub serve` from three
# loopback addresses (127.0.0.1, 127.0.0.2, 127.0.0.3: sfeed's curl and feedparser bind their
# source address, newsboat keeps the default one) and must be found as 3 direct clients; a
# static nginx serving the same site writes a combined access log that `feedpub stats import`
# adds, once; older days are imported too, and headless Chromium renders /stats, whose SVG
# chart must have one point per day of history. Sourced by run.sh, whose helpers (check,
# check_here, free_port, tmpfile, chromium_run, nb_new, nb_reload, stop_pid, chk_sigterm,
# chk_log_clean, wait_http, PIDS, WORK, LOGS, OUT, HERE, FEEDPUB, PY) it uses.

STATS_TOKEN=interop-admin-token-0123456789

# stats_config: the suite's configuration with statistics on, their own database and a token.
stats_config() {
  mkdir -p "$WORK/stats"
  sed -e '/^stats = /d' "$WORK/etc/feedpub.toml" >"$WORK/etc/stats.toml"
  {
    echo "stats = true"
    echo "stats_db = \"$WORK/stats/stats.sqlite\""
    echo "admin_token = \"$STATS_TOKEN\""
  } >>"$WORK/etc/stats.toml"
}

# stats_start: `feedpub serve` with the statistics configuration; sets URL[stats], PID[stats].
stats_start() {
  local stdout=$WORK/stats/serve.stdout addr=
  [[ -d $WORK/stats/articles ]] || cp -R "$HERE/corpus" "$WORK/stats/articles"
  LOG[stats]=$LOGS/feedpub-stats.log
  : >"$stdout"
  RUST_LOG=feedpub=debug "$FEEDPUB" serve --config "$WORK/etc/stats.toml" --articles "$WORK/stats/articles" \
    --out "$WORK/stats/out" --addr 127.0.0.1:0 >"$stdout" 2>>"${LOG[stats]}" </dev/null &
  PID[stats]=$!
  PIDS+=("${PID[stats]}")
  for _ in $(seq 150); do
    addr=$(sed -n 's|^feedpub is serving on http://||p' "$stdout")
    [[ -z $addr ]] || break
    kill -0 "${PID[stats]}" 2>/dev/null || break
    sleep 0.1
  done
  if [[ -z $addr ]]; then
    cat "$stdout" "${LOG[stats]}"
    return 1
  fi
  URL[stats]=http://$addr
  echo "feedpub stats: ${URL[stats]} (pid ${PID[stats]})"
}

stats_json() { # FILE: /stats.json with the token, into FILE
  curl -fsS --max-time 10 -H "Authorization: Bearer $STATS_TOKEN" -o "$1" "${URL[stats]}/stats.json"
}

# stats_expect PYTHON-EXPRESSION: polls /stats.json (5 s at most) until the expression holds;
# `j` is the JSON, `feed(path)` one feed's figures, `agg(feed, name)` one aggregator's count.
stats_expect() {
  local f
  f=$(tmpfile)
  for _ in $(seq 25); do
    stats_json "$f"
    if "$PY" "$HERE/lib/stats_expect.py" "$f" "$1"; then
      cat "$f"
      return 0
    fi
    sleep 0.2
  done
  echo "never true: $1"
  cat "$f"
  return 1
}

chk_stats_readers() { # three real readers from three addresses: 3 direct clients
  local rss=${URL[stats]}/rss.xml dir=$WORK/stats/readers
  mkdir -p "$dir/sfeed/feeds"
  # newsboat from 127.0.0.1 (the loopback's default source address).
  nb_new "$dir/newsboat" "$rss"
  nb_reload "$dir/newsboat"
  # sfeed from 127.0.0.2: sfeed_update's fetch, with curl bound to that address.
  {
    echo "sfeedpath=\"$dir/sfeed/feeds\""
    echo "feeds() { feed \"interop\" \"$rss\"; }"
    echo "fetch() { curl -fsS --interface 127.0.0.2 -A 'sfeed_update (interop)' -L --max-time 15 \"\$2\"; }"
  } >"$dir/sfeed/sfeedrc"
  sfeed_update "$dir/sfeed/sfeedrc"
  [[ -s $dir/sfeed/feeds/interop ]]
  # feedparser from 127.0.0.3: urllib's connection bound to that address.
  "$PY" "$HERE/lib/stats_expect.py" --feedparser-from 127.0.0.3 "$rss"
  stats_expect 'feed("/rss.xml")["direct_clients"] == 3 and j["subscribers"] == 3 and {r["name"] for r in j["readers"]} >= {"newsboat", "sfeed_update", "feedparser"}'
}

# stats_nginx: a static nginx serving the stats server's output folder, with a combined log.
stats_nginx() {
  local dir=$WORK/stats/nginx port user=""
  port=$(free_port)
  mkdir -p "$dir/tmp"
  ((EUID != 0)) || user="user nobody nogroup;"
  chmod -R a+rX "$WORK/stats/out"
  cat >"$dir/nginx.conf" <<EOF
# Written by tests/interop/stats.sh.
$user
daemon off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $LOGS/stats-nginx-error.log info;
events { worker_connections 64; }
http {
  access_log $LOGS/stats-nginx-access.log combined;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  types { application/rss+xml xml; }
  server {
    listen 127.0.0.1:$port;
    root $WORK/stats/out;
  }
}
EOF
  nginx -p "$dir" -c "$dir/nginx.conf" -e "$LOGS/stats-nginx-error.log" </dev/null >>"$LOGS/stats-nginx-stdout.log" 2>&1 &
  PID[stats-nginx]=$!
  PIDS+=("${PID[stats-nginx]}")
  URL[stats-nginx]=http://127.0.0.1:$port
  wait_http "${URL[stats-nginx]}/rss.xml" "${PID[stats-nginx]}"
}

chk_stats_import_nginx() { # polls through nginx, imported from its combined log, counted once
  local n=${URL[stats-nginx]} log=$LOGS/stats-nginx-access.log etag ua="NetNewsWire (RSS Reader; https://netnewswire.com/)"
  : >"$log"
  curl -fsS --interface 127.0.0.4 -A "Feedbin feed-id:77 - 21 subscribers" -o /dev/null "$n/rss.xml"
  etag=$(curl -fsS --interface 127.0.0.5 -A "$ua" -D - -o /dev/null "$n/rss.xml" |
    tr -d '\r' | awk -F': ' 'tolower($1)=="etag"{print $2}')
  [[ $(curl -sS --interface 127.0.0.5 -A "$ua" -H "If-None-Match: $etag" -o /dev/null -w '%{http_code}' "$n/rss.xml") == 304 ]]
  curl -sS -o /dev/null --interface 127.0.0.6 -A "not-a-poll/1.0" "$n/no-such-feed.xml" || true
  curl -sS -o /dev/null --interface 127.0.0.6 -A "not-a-poll/1.0" "$n/index.html" || true
  # nginx writes each log line after its response: wait until all five are there.
  for _ in $(seq 50); do
    (($(wc -l <"$log") >= 5)) && break
    sleep 0.1
  done
  cat "$log"
  "$FEEDPUB" stats import --config "$WORK/etc/stats.toml" "$log" | tee "$WORK/stats/import1.txt"
  grep -q 'imported 3 poll(s)' "$WORK/stats/import1.txt"
  # Twice: nothing is counted twice.
  "$FEEDPUB" stats import --config "$WORK/etc/stats.toml" "$log" | tee "$WORK/stats/import2.txt"
  grep -q 'imported 0 poll(s).*3 already imported' "$WORK/stats/import2.txt"
  stats_expect 'feed("/rss.xml")["direct_clients"] == 4 and agg(feed("/rss.xml"), "Feedbin") == 21 and j["subscribers"] == 25'
}

chk_stats_import_history() { # five older days of polls, and a line that is not a log line
  local log=$WORK/stats/older.log
  "$PY" "$HERE/lib/stats_expect.py" --older-log 5 >"$log"
  echo 'this is not a combined log line' >>"$log"
  "$FEEDPUB" stats import --config "$WORK/etc/stats.toml" "$log" | tee "$WORK/stats/import3.txt"
  grep -qF "1 lines skipped, first at $log:$(wc -l <"$log")" "$WORK/stats/import3.txt"
  stats_expect 'len(j["history"]) == 6 and [d["subscribers"] for d in j["history"][:5]] == [5 + 50, 4 + 40, 3 + 30, 2 + 20, 1 + 10]'
  "$FEEDPUB" stats --config "$WORK/etc/stats.toml" | tee "$OUT/stats-table.txt"
}

chk_stats_page() { # Chromium renders /stats: a screenshot, and one SVG point per day of history
  local page=$WORK/stats/stats.html dom json days points
  dom=$(tmpfile)
  json=$(tmpfile)
  [[ $(curl -sS -o /dev/null -w '%{http_code}' "${URL[stats]}/stats") == 401 ]]
  # The page needs the token, which Chromium cannot send from its command line: it renders
  # the page as fetched (it has no script, so nothing else is loaded).
  curl -fsS -H "Authorization: Bearer $STATS_TOKEN" -o "$page" "${URL[stats]}/stats"
  cp "$page" "$OUT/stats.html"
  rm -f "$OUT/stats.png"
  chromium_run --screenshot="$OUT/stats.png" --window-size=1024,1400 "file://$page"
  "$PY" "$HERE/lib/checks.py" png "$OUT/stats.png" --width 1024 --height 1400
  chromium_run --dump-dom "file://$page" >"$dom"
  stats_json "$json"
  days=$("$PY" -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["history"]))' "$json")
  points=$(grep -o '<circle class="day"' "$dom" | wc -l)
  echo "history: $days days; points in the rendered SVG: $points"
  ((days == 6 && points == days))
}

chk_stats_restart() { # SIGTERM and a new start: the same figures from the same database
  local before after
  before=$(tmpfile)
  after=$(tmpfile)
  stats_json "$before" || return 1
  stop_pid "${PID[stats]}" || return 1
  stats_start || return 1
  stats_json "$after" || return 1
  "$PY" "$HERE/lib/stats_expect.py" --same "$before" "$after"
}

run_stats() {
  local tag="[stats]" db=$WORK/stats/stats.sqlite
  stats_config
  check_here feedpub "$tag serve with statistics on starts" stats_start || return 0
  check readers "$tag newsboat, sfeed, feedparser from 3 addresses: 3 direct clients" chk_stats_readers
  if check_here nginx "$tag a static nginx serves the same site with a combined log" stats_nginx; then
    check feedpub "$tag stats import of nginx's combined log adds its polls, once" chk_stats_import_nginx
  fi
  check feedpub "$tag stats import of 5 older days: a history of 6 days" chk_stats_import_history
  check chromium "$tag /stats page: screenshot; one SVG point per day of history" chk_stats_page
  check_here feedpub "$tag restart: the same figures from the same database" chk_stats_restart || true
  check sqlite3 "$tag the database holds no client address (text or bytes)" \
    "$PY" "$HERE/lib/stats_expect.py" --no-address "$db" 127.0.0.2 127.0.0.3 127.0.0.4 127.0.0.5 192.0.2.1 198.51.100.7
  check sqlite3 "$tag the database is in WAL mode with schema version 1" \
    test "$(sqlite3 "$db" 'PRAGMA journal_mode; PRAGMA user_version;' | tr '\n' ' ')" = "wal 1 "
  [[ -z ${PID[stats-nginx]:-} ]] || stop_pid "${PID[stats-nginx]}" || true
  check_here feedpub "$tag SIGTERM: exits 0" chk_sigterm stats || true
  check feedpub "$tag no ERROR and no panic in the log" chk_log_clean "${LOG[stats]}"
}
