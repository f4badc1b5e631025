# shellcheck shell=bash
# What every subscriber sees, with real readers: the language of each entry as feedparser
# reports it, per-language feeds, the direction Chromium computes for Persian text, a page on
# another origin reading feeds and their ETags (CORS), the OPML list imported by newsboat,
# and a moved and a retired feed as feedparser sees them. Sourced by run.sh, which calls
# run_subscribers in its full mode; INTEROP_SUBSCRIBERS=0 leaves it out.

SUB_PERSIAN_PAGE=/articles/27395.html # the Persian article "دستگیری باند سارقان منازل ..." of seeds/
SUB_ENGLISH_PAGE=/articles/26462.html

# The suite's configuration with moved and retired feeds and an icon.
subscribers_config() {
  local file=$1
  cat "$WORK/etc/feedpub.toml" >"$file"
  cat >>"$file" <<'TOML'
icon = "/icon.png"
redirects = { "/index.xml" = "/rss.xml", "/feed/" = "/atom.xml" }
gone = ["/old-feed.xml"]
TOML
}

chk_preflight() { # URL: OPTIONS answers the CORS preflight of a conditional GET
  local h
  h=$(tmpfile)
  curl -sS -o /dev/null -D "$h" -X OPTIONS -H 'Origin: https://reader.example' \
    -H 'Access-Control-Request-Method: GET' -H 'Access-Control-Request-Headers: if-none-match' "$1"
  cat "$h"
  grep -q '^HTTP/1.1 204' "$h" &&
    grep -qi '^access-control-allow-origin: \*' "$h" &&
    grep -qi '^access-control-allow-methods: GET, HEAD' "$h" &&
    grep -qi '^access-control-allow-headers: .*If-None-Match' "$h"
}

chk_newsboat_opml() { # DIR OPML_URL: newsboat -i imports every feed of the list; a reload reads each
  local dir=$1 opml
  nb_new "$dir"
  : >"$dir/urls"
  opml=$dir/feeds.opml
  fetch "$2" "$opml"
  HOME=$dir/home XDG_CONFIG_HOME=$dir/home/.config XDG_DATA_HOME=$dir/home/.local/share \
    XDG_CACHE_HOME=$dir/home/.cache timeout -k 5 60 \
    newsboat -u "$dir/urls" -c "$dir/cache.db" -C /dev/null -i "$opml" </dev/null
  cat "$dir/urls"
  nb_reload "$dir"
  "$PY" "$HERE/lib/subscribers.py" newsboat-opml "$opml" "$dir/urls" "$dir/cache.db"
}

chk_browser() { # WHAT HARNESS_URL: Chromium runs the harness page; the suite reads its figures
  local f
  f=$(tmpfile)
  chromium_run --virtual-time-budget=20000 --dump-dom "$2" >"$f"
  "$PY" "$HERE/lib/subscribers.py" browser "$1" "$f"
}

run_subscribers() {
  local S=$WORK/subscribers tag="[subscribers]"
  mkdir -p "$S"
  cp -R "$ROOT/seeds" "$S/articles"
  subscribers_config "$S/feedpub.toml"
  local port base
  port=$(free_port)
  base=http://127.0.0.1:$port
  # Listening where base_url says: the redirects' Location is followed by the readers.
  FEEDPUB_CONFIG=$S/feedpub.toml FEEDPUB_ADDR=127.0.0.1:$port check_here feedpub "$tag serve: the seeds with redirects, gone and an icon" \
    start_feedpub subscribers "$S/articles" "$S/out" "$base" || return 0
  check_here static "$tag a page on another origin (a second port)" \
    start_static subscribers-page "$HERE/harness" || return 0
  local a=${URL[subscribers]} page=${URL[subscribers-page]}
  fetch "$a/atom.xml" "$OUT/subscribers-atom.xml" || true
  fetch "$a/feeds.opml" "$OUT/subscribers-feeds.opml" || true

  check feedparser "$tag atom.xml: each entry's content[0].language (fa for Persian)" \
    "$PY" "$HERE/lib/subscribers.py" fp-lang "$a/atom.xml" --min-persian 4
  for code in en fa; do
    check feedparser "$tag lang/$code/rss.xml: bozo 0, every entry in $code" \
      "$PY" "$HERE/lib/subscribers.py" fp-language-feed "$a/lang/$code/rss.xml" "$code"
    check feedparser "$tag lang/$code/atom.xml: bozo 0, every entry in $code" \
      "$PY" "$HERE/lib/subscribers.py" fp-language-feed "$a/lang/$code/atom.xml" "$code"
    check xmllint "$tag lang/$code/rss.xml is well-formed XML" chk_xmllint "$a/lang/$code/rss.xml"
    check jing "$tag lang/$code/atom.xml is valid against RFC 4287's RELAX NG grammar" chk_jing "$a/lang/$code/atom.xml"
    check feedparser-rs "$tag lang/$code/feed.json: JSON Feed 1.1; same entries as its rss.xml" \
      chk_json_same "$a/lang/$code/rss.xml" "$a/lang/$code/feed.json"
  done
  check jing "$tag atom.xml with icon, xml:lang and no summary: valid RFC 4287" chk_jing "$a/atom.xml"
  check xmllint "$tag feeds.opml is well-formed XML" chk_xmllint "$a/feeds.opml"
  check python "$tag feeds.opml lists the main, language and tag feeds" \
    "$PY" "$HERE/lib/subscribers.py" opml "$OUT/subscribers-feeds.opml" \
    "$base/rss.xml" "$base/lang/en/rss.xml" "$base/lang/fa/rss.xml" "$base/tags/traffic/rss.xml"
  check newsboat "$tag newsboat -i feeds.opml imports every feed; a reload reads each" \
    chk_newsboat_opml "$S/newsboat" "$a/feeds.opml"
  check chromium "$tag the index autodiscovers the language feeds" chk_autodiscovery "$a/"
  local harness="$page/subscriber.html?base=$a&fa=$SUB_PERSIAN_PAGE&en=$SUB_ENGLISH_PAGE"
  check chromium "$tag Persian entries' HTML and article page render right to left" \
    chk_browser direction "$harness"
  check chromium "$tag a page on another origin reads /feed.json's ETag on 200 and 304" \
    chk_browser cors "$harness"
  check curl "$tag OPTIONS /feed.json answers the CORS preflight (204)" chk_preflight "$a/feed.json"
  check feedparser "$tag /index.xml: feedparser reports 301 and reads /rss.xml" \
    "$PY" "$HERE/lib/subscribers.py" fp-moved "$a/index.xml" "$base/rss.xml"
  check feedparser "$tag /feed/ (configured over the alias): 301 to /atom.xml" \
    "$PY" "$HERE/lib/subscribers.py" fp-moved "$a/feed/" "$base/atom.xml"
  check feedparser "$tag /old-feed.xml: feedparser reports 410" \
    "$PY" "$HERE/lib/subscribers.py" fp-gone "$a/old-feed.xml"
  check feedpub "$tag no error in the server's log" chk_log_clean "${LOG[subscribers]}"
}
