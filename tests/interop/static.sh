# shellcheck shell=bash
# shellcheck disable=SC2004 # URL, PID and LOG are associative arrays declared in run.sh
# The static site: `feedpub build` output served by nginx with contrib/nginx.conf, by Caddy with
# contrib/Caddyfile and by a stock nginx with only `root` and `index`. Sourced by run.sh, whose
# helpers (check, check_here, row, free_port, PIDS, WORK, LOGS, HERE, ROOT, FEEDPUB) it uses.

STATIC_ITEMS=4 # max_items and archive_page_size of the static site: the history has pages

# static_config: the suite's configuration with a short feed, archive pages, and the default
# max-ages (which contrib/ writes in).
static_config() {
  sed -e "s/^max_items = .*/max_items = $STATIC_ITEMS\narchive_page_size = $STATIC_ITEMS/" \
    -e '/^cache_max_age = /d' -e '/^stale_while_revalidate_secs = /d' "$WORK/etc/feedpub.toml" >"$WORK/etc/static.toml"
}

# static_build NAME ARTICLES BASE: builds the site for the server at BASE into $WORK/site-NAME.
static_build() {
  local site=$WORK/site-$1
  "$FEEDPUB" build --config "$WORK/etc/static.toml" --articles "$2" --out "$site" --base-url "$3"
  # A second build rewrites nothing: the files' validators stay.
  local before after
  before=$(find "$site" -type f -printf '%P %T@\n' | sort)
  "$FEEDPUB" build --config "$WORK/etc/static.toml" --articles "$2" --out "$site" --base-url "$3" >/dev/null
  after=$(find "$site" -type f -printf '%P %T@\n' | sort)
  [[ $before == "$after" ]] || {
    echo "a second build changed files:"
    diff <(echo "$before") <(echo "$after") | head -20
    return 1
  }
  chmod -R a+rX "$site"
}

# wait_http URL PID: until URL answers or the process PID is gone (10 s at most).
wait_http() {
  for _ in $(seq 100); do
    curl -s -o /dev/null "$1" && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# start_static_nginx NAME PORT SITE SERVER_BLOCK_FILE: nginx in the foreground serving SITE.
start_static_nginx() {
  local name=$1 port=$2 site=$3 block=$4 dir=$WORK/$1 user=""
  mkdir -p "$dir/tmp"
  ((EUID != 0)) || user="user nobody nogroup;"
  LOG[$name]=$LOGS/$name-error.log
  sed -e "s|listen 80;|listen 127.0.0.1:$port;|" -e '/listen \[::\]:80;/d' \
    -e "s|root /var/www/feedpub;|root $site;|" "$block" >"$dir/site.conf"
  local module=""
  if grep -q brotli_static "$dir/site.conf"; then
    module="load_module /usr/lib/nginx/modules/ngx_http_brotli_static_module.so;"
  fi
  cat >"$dir/nginx.conf" <<EOF
# Written by tests/interop/static.sh.
$module
$user
daemon off;
worker_processes 1;
pid $dir/nginx.pid;
error_log ${LOG[$name]} info;
events { worker_connections 64; }
http {
  include /etc/nginx/mime.types;
  access_log $LOGS/$name-access.log;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  include $dir/site.conf;
}
EOF
  nginx -p "$dir" -c "$dir/nginx.conf" -e "${LOG[$name]}" </dev/null >>"$LOGS/$name-stdout.log" 2>&1 &
  PID[$name]=$!
  PIDS+=("${PID[$name]}")
  URL[$name]=http://127.0.0.1:$port
  wait_http "${URL[$name]}/" "${PID[$name]}" || {
    cat "${LOG[$name]}"
    return 1
  }
}

# start_static_caddy NAME PORT SITE: caddy in the foreground with contrib/Caddyfile.
start_static_caddy() {
  local name=$1 port=$2 site=$3 dir=$WORK/$1
  mkdir -p "$dir/home"
  cat >"$dir/Caddyfile" <<EOF
# Written by tests/interop/static.sh: no admin endpoint, no certificates, then contrib's file.
{
	admin off
	auto_https off
}
import $ROOT/contrib/Caddyfile
EOF
  LOG[$name]=$LOGS/$name.log
  HOME=$dir/home XDG_DATA_HOME=$dir/home/data XDG_CONFIG_HOME=$dir/home/config \
    FEEDPUB_SITE=http://127.0.0.1:$port FEEDPUB_ROOT=$site \
    caddy run --config "$dir/Caddyfile" --adapter caddyfile </dev/null >"${LOG[$name]}" 2>&1 &
  PID[$name]=$!
  PIDS+=("${PID[$name]}")
  URL[$name]=http://127.0.0.1:$port
  wait_http "${URL[$name]}/" "${PID[$name]}" || {
    cat "${LOG[$name]}"
    return 1
  }
}

crawl_py() { "$PY" "$HERE/lib/crawl.py" "$@"; }

# static_expected TSV OUT: the STATIC_ITEMS newest rows of an expected .tsv (the order of
# checks.py: newest first, then by id), the items of the subscription feeds.
static_expected() {
  grep -v '^#' "$1" | LC_ALL=C sort -t $'\t' -k3,3nr -k1,1 | head -n "$STATIC_ITEMS" >"$2"
}

# static_private SITE: files a web server must not serve, as feedpub leaves them while it
# writes (a temporary file) and after a ping (the state file), so that a 404 comes from the
# configuration and not from a missing file.
static_private() {
  local site=$1 page
  page=$(find "$site/articles" -name '*.html' | sort | head -n 1)
  cp "$page" "$site/articles/.$(basename "$page").a1b2c3.tmp"
  [[ -e $site/.feedpub-pinged ]] || printf '{}\n' >"$site/.feedpub-pinged"
  chmod -R a+rX "$site"
}

# chk_fp_feed_text_xml URL BASE PREFIX EXPECTED...: chk_fp_feed, except for the one bozo of a
# stock server: `text/xml` without a charset is us-ascii to feedparser (RFC 3023), which it
# reports when the feed holds other characters, then reads as the declared UTF-8.
chk_fp_feed_text_xml() {
  local url=$1 args
  shift
  mapfile -t args < <(expected_args "$@")
  "$PY" "$HERE/lib/checks.py" fp-feed "$url" --allow-charset-override "${args[@]}"
}

# run_static SERVER CORPUS: build CORPUS, start SERVER (nginx, caddy or plain) on it, run the
# checks, stop it.
run_static() {
  local server=$1 corpus=$2 port base name=static-$1-$2 tag="[static $1 $2]"
  local site=$WORK/site-$1-$2 articles=$HERE/corpus expected=$WORK/static-$2.tsv
  [[ $corpus != seeds ]] || articles=$ROOT/seeds
  port=$(free_port)
  base=http://127.0.0.1:$port
  static_expected "$HERE/expected/$corpus.tsv" "$expected"
  check feedpub "$tag build writes the site (a second build rewrites nothing)" \
    static_build "$server-$corpus" "$articles" "$base"
  static_private "$site"
  case $server in
  nginx) check_here nginx "$tag starts with contrib/nginx.conf (brotli_static)" \
    start_static_nginx "$name" "$port" "$site" "$ROOT/contrib/nginx.conf" || return 0 ;;
  caddy) check_here caddy "$tag starts with contrib/Caddyfile" \
    start_static_caddy "$name" "$port" "$site" || return 0 ;;
  plain)
    printf 'server {\n    listen 80;\n    root /var/www/feedpub;\n    index index.html;\n}\n' >"$WORK/plain.conf"
    check_here nginx "$tag starts with only root and index" \
      start_static_nginx "$name" "$port" "$site" "$WORK/plain.conf" || return 0
    ;;
  esac
  local reader=$server exp=("$base" "$ID_PREFIX" "$expected")
  [[ $server != plain ]] || reader=nginx
  if [[ $server == plain ]]; then
    check "$reader" "$tag crawl from / and the feeds: all 200, no redirect, every file" \
      crawl_py crawl "$base" "$site" --loose-types
  else
    check "$reader" "$tag crawl from / and the feeds: all 200, no redirect, exact types, all files" \
      crawl_py crawl "$base" "$site"
  fi
  check "$reader" "$tag prev-archive from rss.xml and from atom.xml: every article's id" \
    crawl_py archive "$base" "$site" "$ID_PREFIX"
  check "$reader" "$tag 304 on the server's own ETag and Last-Modified, per encoding" \
    crawl_py conditional "$base" "$site"
  if [[ $server != plain ]]; then
    check "$reader" "$tag br and gzip answers are the .br/.gz files; ETag per encoding; Vary" \
      crawl_py encodings "$base" "$site"
    check "$reader" "$tag every page and feed: Content-Type, Cache-Control, nosniff, CSP" \
      crawl_py headers "$base" "$site"
    check "$reader" "$tag the old feed names answer 301 to the feeds" crawl_py aliases "$base"
    check "$reader" "$tag dot-files, temporary files, _headers, NAME.gz by name: 404" \
      crawl_py private "$base" "$site"
  else
    # The strict checks can fail: a stock server sends no feed types, no precompressed files,
    # no security headers, and serves every file.
    expect FAIL nginx "$tag crawl with the exact feed types" crawl_py crawl "$base" "$site"
    expect FAIL nginx "$tag br and gzip answers are the precompressed files" \
      crawl_py encodings "$base" "$site"
    expect FAIL nginx "$tag every page and feed: Content-Type, Cache-Control, nosniff, CSP" \
      crawl_py headers "$base" "$site"
    expect FAIL nginx "$tag the old feed names answer 301 to the feeds" crawl_py aliases "$base"
    expect FAIL nginx "$tag dot-files, temporary files, _headers: 404" crawl_py private "$base" "$site"
  fi
  if [[ $server == plain ]]; then
    check feedparser "$tag rss.xml: ids, links, titles, dates = expected (text/xml bozo allowed)" \
      chk_fp_feed_text_xml "$base/rss.xml" "${exp[@]}"
    check feedparser "$tag atom.xml: ids, links, titles, dates = expected (text/xml bozo allowed)" \
      chk_fp_feed_text_xml "$base/atom.xml" "${exp[@]}"
  else
    check feedparser "$tag rss.xml: bozo 0; ids, links, titles, dates = expected" chk_fp_feed "$base/rss.xml" "${exp[@]}"
    check feedparser "$tag atom.xml: bozo 0; ids, links, titles, dates = expected" chk_fp_feed "$base/atom.xml" "${exp[@]}"
  fi
  check feedparser "$tag rss.xml: refetch with etag+modified gets 304" chk_fp_304 "$base/rss.xml"
  check feedparser-rs "$tag feed.json: JSON Feed 1.1 fields; same entries as rss.xml" \
    chk_json_same "$base/rss.xml" "$base/feed.json"
  local nb=$WORK/nb-static-$server-$corpus
  nb_new "$nb/rss" "$base/rss.xml"
  nb_new "$nb/atom" "$base/atom.xml"
  check newsboat "$tag rss.xml: cache holds exactly the expected items" chk_newsboat "$nb/rss" each "${exp[@]}"
  check newsboat "$tag atom.xml: cache holds exactly the expected items" chk_newsboat "$nb/atom" each "${exp[@]}"
  stop_pid "${PID[$name]}" || true
}
