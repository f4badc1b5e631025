#!/usr/bin/env python3
"""Synthetic article corpus for feedpub benchmarks (python3 standard library only).

Writes N articles in the scraped seed format (see seeds/000_bb7615a41bd90a68.txt):

    Print        Send to Friend

    12 May 2018

    Title line

    Paragraph ...

    12:55 - 2018/05/12    /    number : 26462    /    Show Count : 569

Sizes are ~3-6 KB, dates are spread over 2010-2024, every `number` is unique, and about
one article in eight has Persian paragraphs (one in thirty a Persian title). The output is
a pure function of (N, --seed): the same arguments always give the same bytes.

Article 0 is always the newest one (2024-12-31 23:59), so a benchmark that edits it knows
the feed really changes; every other article is dated before 2024-12-31.

--markdown DIR writes the same N posts as Hugo content (DIR/post-NNNNNN.md with TOML front
matter title/date and the paragraphs as Markdown), for the Hugo comparison.

Usage:
    gen_corpus.py -n 10000 --out /tmp/corpus-10k [--markdown /tmp/hugo/content/posts]
                  [--seed 1] [--min-bytes 3000 --max-bytes 6000]
"""

import argparse
import datetime as dt
import hashlib
import os
import random
import sys

MONTHS = [
    "January", "February", "March", "April", "May", "June", "July", "August",
    "September", "October", "November", "December",
]

SUBJECTS = [
    "The provincial police chief", "Brigadier General Hadianfar", "A police spokesman",
    "The head of the traffic police", "The cyber police", "Border guards",
    "The anti-narcotics police", "Community police officers", "Rescue teams",
    "The economic security police", "Investigators", "The chief of the criminal police",
    "Officers of the metro police", "The emergency line 110 operators",
]
VERBS = [
    "said", "announced", "told reporters", "added", "emphasized", "warned",
    "reported on Sunday", "confirmed", "stated in a press conference", "continued",
]
OBJECTS = [
    "that the number of car thefts fell by twelve percent compared with last year",
    "that a gang of smugglers was arrested near the eastern border",
    "that citizens should never share bank card passwords with strangers",
    "that cooperation between countries is the key to fighting cybercrime",
    "that more than 3,000 counterfeit banknotes were seized in a joint operation",
    "that speed cameras have been installed on forty intercity roads",
    "that the recovery rate of stolen vehicles reached 87 percent",
    "that drones & thermal cameras helped find a missing hiker in the mountains",
    "that fraudulent text messages promising \"lottery wins\" are on the rise",
    "that families must check gas heaters before the winter season",
    "that the new police academy graduates will join the traffic units",
    "that organized groups use messaging apps to recruit members",
    "that the emergency line answered 4 million calls this year",
    "that residents < 18 years old need a guardian to file a complaint",
]
EXTRAS = [
    "according to police news", "in the capital", "over the past six months",
    "during the Nowruz holidays", "in several provinces", "after a long investigation",
    "with the help of local residents", "despite difficult weather conditions",
    "in cooperation with Interpol", "under the supervision of the judiciary",
]
TITLE_WORDS = [
    "Police", "arrest", "gang", "seize", "smuggled", "phones", "traffic", "campaign",
    "cyber", "fraud", "warning", "rescue", "teams", "border", "guards", "narcotics",
    "officers", "deliver", "medicine", "metro", "pickpocketing", "drones", "missing",
    "hiker", "counterfeit", "banknote", "ring", "dismantled", "speed", "cameras",
    "emergency", "line", "calls", "families", "heaters", "academy", "graduates",
]
PERSIAN_SENTENCES = [
    "رئیس پلیس فتا در نشستی خبری اعلام کرد که شکایت‌های مربوط به کلاهبرداری اینترنتی افزایش یافته است.",
    "شهروندان هرگز نباید رمز دوم کارت بانکی یا کد تأیید پیامکی را در اختیار افراد ناشناس قرار دهند.",
    "هیچ بانک و سازمان رسمی از طریق تماس تلفنی یا پیامک چنین اطلاعاتی را درخواست نمی‌کند.",
    "کارشناسان پلیس به صورت شبانه‌روزی آماده پاسخگویی به پرسش‌ها و رسیدگی به گزارش‌های مردمی هستند.",
    "طرح ارتقای امنیت اجتماعی در محلات پایتخت با حضور گسترده مأموران اجرا شد.",
    "باند سارقان منازل در شمال تهران پس از ماه‌ها تحقیقات دستگیر شدند.",
    "پلیس راهور از رانندگان خواست در روزهای بارانی سرعت خود را کاهش دهند.",
]
PERSIAN_TITLES = [
    "پلیس فتا نسبت به کلاهبرداری‌های اینترنتی هشدار داد",
    "دستگیری باند سارقان منازل در شمال تهران",
    "اجرای طرح ارتقای امنیت اجتماعی در محلات پایتخت",
    "هشدار پلیس راهور به رانندگان در روزهای بارانی",
]

START = dt.datetime(2010, 1, 1)
# Everything but article 0 is dated before this; article 0 is dated exactly NEWEST.
LAST = dt.datetime(2024, 12, 30, 23, 59)
NEWEST = dt.datetime(2024, 12, 31, 23, 59)


def english_paragraph(rng, target):
    sentences = []
    size = 0
    while size < target:
        s = "%s %s %s %s." % (
            rng.choice(SUBJECTS), rng.choice(VERBS), rng.choice(OBJECTS), rng.choice(EXTRAS))
        sentences.append(s)
        size += len(s) + 1
    return " ".join(sentences)


def persian_paragraph(rng, target):
    sentences = []
    size = 0
    while size < target:
        s = rng.choice(PERSIAN_SENTENCES)
        sentences.append(s)
        size += len(s.encode("utf-8")) + 1
    return " ".join(sentences)


def make_article(rng, index, number, when, min_bytes, max_bytes):
    """One article: (title, date, paragraphs, footer fields)."""
    persian_title = rng.random() < 1 / 30
    persian_body = persian_title or rng.random() < 1 / 8
    if persian_title:
        title = rng.choice(PERSIAN_TITLES)
    else:
        words = rng.sample(TITLE_WORDS, rng.randint(5, 10))
        title = " ".join(words).capitalize()
    target = rng.randint(min_bytes, max_bytes) - 200 - len(title.encode("utf-8"))
    paragraphs = []
    size = 0
    while size < target:
        para_target = min(target - size, rng.randint(250, 900))
        if persian_body and rng.random() < 0.5:
            p = persian_paragraph(rng, max(para_target, 80))
        else:
            p = english_paragraph(rng, max(para_target, 80))
        paragraphs.append(p)
        size += len(p.encode("utf-8")) + 2
    views = rng.randint(10, 5000)
    return title, paragraphs, views


def render_txt(title, when, paragraphs, number, views, variant):
    date_line = "%d %s %d" % (when.day, MONTHS[when.month - 1] if variant else MONTHS[when.month - 1][:3], when.year)
    footer = "%02d:%02d - %04d/%02d/%02d    /    number : %d    /    Show Count : %d" % (
        when.hour, when.minute, when.year, when.month, when.day, number, views)
    parts = ["Print        Send to Friend", date_line, title] + paragraphs + [footer]
    return "\n\n".join(parts) + "\n"


def toml_string(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_md(title, when, paragraphs, number):
    # Hugo reads a date without an offset in the site's time zone (UTC by default).
    front = "+++\ntitle = %s\ndate = %s\nslug = \"%d\"\n+++\n\n" % (
        toml_string(title), when.strftime("%Y-%m-%dT%H:%M:%S"), number)
    return front + "\n\n".join(paragraphs) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--count", type=int, required=True, help="number of articles")
    ap.add_argument("--out", help="folder for the .txt articles (created)")
    ap.add_argument("--markdown", metavar="DIR", help="also/instead write Hugo content here")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--min-bytes", type=int, default=3000)
    ap.add_argument("--max-bytes", type=int, default=6000)
    args = ap.parse_args(argv)
    if not args.out and not args.markdown:
        ap.error("give --out DIR, --markdown DIR, or both")
    n = args.count
    rng = random.Random(args.seed)
    # Unique footer numbers, spread like a real site's (gaps between ids).
    numbers = rng.sample(range(10_000, 10_000 + max(10 * n, 1000)), n)
    span = int((LAST - START).total_seconds() // 60)
    for d in (args.out, args.markdown):
        if d:
            os.makedirs(d, exist_ok=True)
    total = 0
    for i in range(n):
        if i == 0:
            when = NEWEST
        else:
            when = START + dt.timedelta(minutes=rng.randrange(span))
        number = numbers[i]
        title, paragraphs, views = make_article(rng, i, number, when, args.min_bytes, args.max_bytes)
        if args.out:
            text = render_txt(title, when, paragraphs, number, views, variant=i % 3 == 0)
            name = "%06d_%s.txt" % (i, hashlib.sha256(str(number).encode()).hexdigest()[:16])
            data = text.encode("utf-8")
            total += len(data)
            with open(os.path.join(args.out, name), "wb") as f:
                f.write(data)
        if args.markdown:
            with open(os.path.join(args.markdown, "post-%06d.md" % i), "w", encoding="utf-8") as f:
                f.write(render_md(title, when, paragraphs, number))
    if args.out:
        print("wrote %d articles (%d bytes, avg %d) to %s" % (n, total, total // max(n, 1), args.out), file=sys.stderr)
    if args.markdown:
        print("wrote %d Markdown posts to %s" % (n, args.markdown), file=sys.stderr)


if __name__ == "__main__":
    main()
