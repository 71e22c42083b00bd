#!/usr/bin/env python3
"""Builds data/prompts/benign_l10n_debian.jsonl: benign prompts in the
languages of the multilingual attack set (MultiJail: zh, it, vi, ar, ko, th,
bn, sw, jv) made from human-translated text that Debian 12 packages install:
the gettext message catalogs (/usr/share/locale/LANG/LC_MESSAGES/*.mo:
program messages, option help, dialog text) and, for Chinese, the Chinese
Debian Reference and Chinese manual pages. Each passage is wrapped in a
request written by hand (what does this message mean, how do I fix this,
translate this, explain this simply, rewrite this; a quarter asked in
English).

It is a TRAINING set for the learned detector (analytics/train_learned.c
splits it by hash like every set: train, validation, held-back), so that the
model learns harm in other languages rather than "not English": before it,
the only benign non-English prompts in data/prompts were 25 of NotInject.
It uses none of the sources of the unseen fresh set (data/prompts/fresh,
make_fresh.py: manual pages, the Debian Reference and fortunes in en, de, fr,
es, it, pl, pt, ru): the catalogs are another source, and the Chinese
reference and manual pages are in a language the fresh set does not hold.

    python3 data/prompts/make_l10n.py [--seed N] [--out FILE] [--sources FILE]

Needs debian-reference-zh-cn and manpages-zh (apt-get install -y ...), man-db
and groff; the catalogs are those of the installed packages (which ones and
their versions go to --sources, data/prompts/benign_l10n_debian.sources.tsv).
Deterministic for a given seed and the same installed packages. Run by hand:
the committed JSONL is what train_learned reads.
"""
import argparse
import gettext
import glob
import json
import os
import random
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fresh  # noqa: E402  (man_passages, debref_passages, weighted_kind)

# MultiJail's non-English languages; catalog folders per language
LANGS = {"zh": ["zh_CN"], "it": ["it"], "vi": ["vi"], "ar": ["ar"], "ko": ["ko"],
         "th": ["th"], "bn": ["bn", "bn_BD", "bn_IN"], "sw": ["sw"], "jv": ["jv"]}
PER_LANG = 450
# catalogs of names (countries, languages, currencies, scripts): lists, not text
SKIP_DOMAINS = re.compile(r"^(iso_|xkeyboard-config)")
# catalogs whose domain is a command a user runs
COMMANDS = {"apt", "dpkg", "git", "grep", "bash", "coreutils", "findutils", "diffutils",
            "make", "tar", "gnupg2", "man-db", "adduser", "sed", "gawk", "wget", "nano",
            "binutils", "ld", "gas", "gold", "gprof", "popt", "initdb-15", "psql-15",
            "pg_dump-15", "gettext-tools", "apparmor-parser", "libc"}
CMD_NAME = {"coreutils": "ls", "findutils": "find", "diffutils": "diff", "gnupg2": "gpg",
            "binutils": "objdump", "gettext-tools": "msgfmt", "apparmor-parser":
            "apparmor_parser", "initdb-15": "initdb", "psql-15": "psql", "pg_dump-15": "pg_dump",
            "libc": "ldconfig", "man-db": "man", "gold": "ld.gold", "gas": "as"}

# Request wrappers per kind and request language, written by hand. {p} = the
# passage, {cmd} = a command.
WRAP = {
    "meaning": {
        "en": ["What does this message mean?\n\n{p}", "{p}\n\nCan you explain this in plain words?",
               "I keep seeing this on my screen:\n\n{p}\n\nWhat is it telling me?"],
        "zh": ["这条提示是什么意思？\n\n{p}", "{p}\n\n这句话用简单的话怎么解释？",
               "屏幕上一直显示这个：\n\n{p}\n\n它想告诉我什么？"],
        "it": ["Che cosa significa questo messaggio?\n\n{p}",
               "{p}\n\nPuoi spiegarmelo con parole semplici?",
               "Continuo a vedere questo sullo schermo:\n\n{p}\n\nChe cosa vuol dire?"],
        "vi": ["Thông báo này có nghĩa là gì?\n\n{p}",
               "{p}\n\nBạn có thể giải thích bằng lời đơn giản không?",
               "Màn hình của tôi cứ hiện dòng này:\n\n{p}\n\nNó muốn nói gì vậy?"],
        "ar": ["ماذا تعني هذه الرسالة؟\n\n{p}", "{p}\n\nهل يمكنك شرح ذلك بكلمات بسيطة؟",
               "تظهر لي هذه الرسالة باستمرار:\n\n{p}\n\nما الذي تعنيه؟"],
        "ko": ["이 메시지는 무슨 뜻인가요?\n\n{p}", "{p}\n\n쉬운 말로 설명해 줄 수 있나요?",
               "화면에 계속 이런 게 떠요:\n\n{p}\n\n무슨 말인가요?"],
        "th": ["ข้อความนี้หมายความว่าอะไร\n\n{p}", "{p}\n\nช่วยอธิบายให้เข้าใจง่าย ๆ ได้ไหม",
               "หน้าจอขึ้นข้อความนี้ตลอดเลย:\n\n{p}\n\nมันหมายถึงอะไร"],
        "bn": ["এই বার্তাটির মানে কী?\n\n{p}", "{p}\n\nসহজ ভাষায় বুঝিয়ে বলবেন?",
               "আমার স্ক্রিনে বারবার এটা আসছে:\n\n{p}\n\nএর মানে কী?"],
        "sw": ["Ujumbe huu una maana gani?\n\n{p}", "{p}\n\nUnaweza kunieleza kwa maneno rahisi?"],
        "jv": ["Pesen iki tegese apa?\n\n{p}"],
    },
    "fix": {
        "en": ["I got this when I ran {cmd}:\n\n{p}\n\nHow do I fix it?",
               "{p}\n\nWhat should I do about this?"],
        "zh": ["我运行 {cmd} 的时候出现了这个：\n\n{p}\n\n应该怎么解决？", "{p}\n\n遇到这种情况我该怎么办？"],
        "it": ["Quando eseguo {cmd} mi compare questo:\n\n{p}\n\nCome posso risolvere?",
               "{p}\n\nChe cosa devo fare in questo caso?"],
        "vi": ["Khi tôi chạy {cmd} thì hiện ra dòng này:\n\n{p}\n\nTôi nên sửa thế nào?",
               "{p}\n\nGặp trường hợp này thì tôi nên làm gì?"],
        "ar": ["عندما أشغّل {cmd} تظهر لي هذه الرسالة:\n\n{p}\n\nكيف أحل المشكلة؟",
               "{p}\n\nماذا يجب أن أفعل في هذه الحالة؟"],
        "ko": ["{cmd} 명령을 실행했더니 이런 메시지가 나왔어요:\n\n{p}\n\n어떻게 해결하나요?",
               "{p}\n\n이럴 때는 어떻게 해야 하나요?"],
        "th": ["ตอนที่ฉันรัน {cmd} มีข้อความนี้ขึ้นมา:\n\n{p}\n\nต้องแก้ยังไง",
               "{p}\n\nถ้าเจอแบบนี้ควรทำอย่างไร"],
        "bn": ["{cmd} চালানোর সময় এই বার্তাটি দেখাচ্ছে:\n\n{p}\n\nকীভাবে ঠিক করব?",
               "{p}\n\nএমন হলে আমার কী করা উচিত?"],
        "sw": ["Nilipoendesha {cmd} nilipata ujumbe huu:\n\n{p}\n\nNifanye nini kuurekebisha?"],
        "jv": ["Aku entuk pesen iki nalika mbukak {cmd}:\n\n{p}\n\nPiye carane mbenerake?"],
    },
    "translate": {
        "en": ["Translate this into English:\n\n{p}", "How would you say this in English?\n\n{p}"],
        "zh": ["请把下面这段话翻译成英文：\n\n{p}", "这句话用英语怎么说？\n\n{p}"],
        "it": ["Traduci in inglese:\n\n{p}", "Come si dice questo in inglese?\n\n{p}"],
        "vi": ["Dịch đoạn này sang tiếng Anh giúp tôi:\n\n{p}"],
        "ar": ["ترجم هذا النص إلى الإنجليزية:\n\n{p}"],
        "ko": ["다음 문장을 영어로 번역해 주세요:\n\n{p}"],
        "th": ["ช่วยแปลข้อความนี้เป็นภาษาอังกฤษหน่อย:\n\n{p}"],
        "bn": ["এই লেখাটি ইংরেজিতে অনুবাদ করে দিন:\n\n{p}"],
        "sw": ["Tafsiri maandishi haya kwa Kiingereza:\n\n{p}"],
        "jv": ["Tulung terjemahake iki menyang basa Inggris:\n\n{p}"],
    },
    "rewrite": {
        "en": ["Rewrite this so that a beginner understands it:\n\n{p}"],
        "zh": ["帮我把这段文字改写得更通俗一些：\n\n{p}"],
        "it": ["Riscrivi questo testo in modo più chiaro:\n\n{p}"],
        "vi": ["Viết lại câu này cho dễ hiểu hơn:\n\n{p}"],
        "ar": ["أعد صياغة هذا النص بشكل أوضح:\n\n{p}"],
        "ko": ["이 문장을 더 자연스럽고 쉽게 고쳐 주세요:\n\n{p}"],
        "th": ["ช่วยเขียนข้อความนี้ใหม่ให้อ่านง่ายขึ้น:\n\n{p}"],
        "bn": ["এই লেখাটি আরও সহজ করে লিখে দিন:\n\n{p}"],
        "sw": ["Andika upya maandishi haya kwa lugha rahisi:\n\n{p}"],
        "jv": ["Tulisen maneh iki supaya luwih gampang dingerteni:\n\n{p}"],
    },
    "summarise": {
        "en": ["Summarise this passage in two sentences:\n\n{p}"],
        "zh": ["请用两句话总结这段内容：\n\n{p}", "{p}\n\n这段话的重点是什么？"],
    },
}
KINDS = {"catalog": [("meaning", 4), ("fix", 3), ("translate", 2), ("rewrite", 1)],
         "debref": [("summarise", 3), ("meaning", 3), ("translate", 2), ("rewrite", 1)],
         "man": [("meaning", 3), ("summarise", 2), ("translate", 2), ("fix", 1)]}
ENGLISH_REQUEST = 0.25
# the share of a catalog message's letters that must be of the language's script
SCRIPT = {"zh": r"[\u4e00-\u9fff]", "ar": r"[\u0600-\u06ff]", "ko": r"[\uac00-\ud7af]",
          "th": r"[\u0e00-\u0e7f]", "bn": r"[\u0980-\u09ff]"}


def sh(cmd):
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def owner(path):
    try:
        return sh(["dpkg", "-S", path]).split(":")[0].strip()
    except subprocess.CalledProcessError:
        return None


def licence(pkg):
    try:
        txt = open(f"/usr/share/doc/{pkg}/copyright", encoding="utf-8", errors="replace").read()
    except OSError:
        return "?"
    # the licence of the "Files: *" paragraph of a machine-readable copyright file
    m = re.search(r"^Files:\s*\*\s*$(?:\n(?!\n).*)*?\nLicense:\s*(\S[^\n]*)", txt, re.M)
    return m.group(1).strip() if m else "see /usr/share/doc/%s/copyright" % pkg


def catalog_passages(lang, folders, rng):
    """(message, domain, path) of every usable translated message of the
    language's catalogs."""
    out = []
    for folder in folders:
        for mo in sorted(glob.glob(f"/usr/share/locale/{folder}/LC_MESSAGES/*.mo")):
            dom = os.path.basename(mo)[:-3]
            if SKIP_DOMAINS.match(dom) or os.path.islink(mo):
                continue
            try:
                with open(mo, "rb") as f:
                    cat = gettext.GNUTranslations(f)._catalog
            except Exception:
                continue
            for k, v in cat.items():
                if not k or isinstance(k, tuple) or not isinstance(v, str) or v == k:
                    continue
                t = v.replace("_", "").replace("&", "").strip()
                t = re.sub(r"[ \t]+", " ", t)
                if not (25 <= len(t) <= 700):
                    continue
                letters = [c for c in t if c.isalpha()]
                if len(letters) < 0.6 * len(t.replace(" ", "")) - 4:
                    continue
                if lang in SCRIPT and len(re.findall(SCRIPT[lang], t)) < 0.4 * len(letters):
                    continue
                out.append({"p": t, "dom": dom, "path": mo})
    rng.shuffle(out)
    return out


def wrap(rng, kind, lang, item):
    qlang = "en" if rng.random() < ENGLISH_REQUEST else lang
    forms = WRAP[kind].get(qlang) or WRAP["meaning"][qlang]
    cmd = item.get("cmd", "")
    if not cmd:
        forms = [f for f in forms if "{cmd}" not in f] or [f for f in WRAP["meaning"][qlang]]
    return qlang, rng.choice(forms).replace("{cmd}", cmd).replace("{p}", item["p"])


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=20261202)
    ap.add_argument("--out", default=os.path.join(here, "benign_l10n_debian.jsonl"))
    ap.add_argument("--sources", default=os.path.join(here, "benign_l10n_debian.sources.tsv"))
    a = ap.parse_args()
    rows, seen, used = [], set(), {}
    pkg_of = {}
    for lang, folders in LANGS.items():
        rng = random.Random(f"{a.seed}-{lang}")
        items = []
        for it in catalog_passages(lang, folders, rng):
            if it["path"] not in pkg_of:
                pkg_of[it["path"]] = owner(it["path"])
            pkg = pkg_of[it["path"]]
            if not pkg:
                continue
            cmd = CMD_NAME.get(it["dom"], it["dom"]) if it["dom"] in COMMANDS else ""
            items.append({"p": it["p"], "cmd": cmd, "source": "catalog", "package": pkg})
        # several messages of one catalog together, as a pasted log or dialog
        joined = []
        for i in range(0, len(items) - 2, 3):
            if rng.random() < 0.25 and items[i]["package"] == items[i + 1]["package"]:
                it = dict(items[i])
                it["p"] = items[i]["p"] + "\n" + items[i + 1]["p"]
                joined.append(it)
            else:
                joined.append(items[i])
            joined.extend(items[i + 1:i + 3])
        items = joined
        if lang == "zh":
            r2 = random.Random(f"{a.seed}-zh-doc")
            paras, _ = make_fresh.debref_passages("zh-cn", r2, PER_LANG // 3)
            doc = [dict(p, source="debref", package="debian-reference-zh-cn") for p in paras]
            man = [dict(p, source="man", package="manpages-zh", cmd=p["cmd"])
                   for p in make_fresh.man_passages("manpages-zh", r2, PER_LANG // 3)]
            want_doc = PER_LANG // 3
            items = doc[:want_doc] + man[:want_doc] + items
        n = 0
        for it in items:
            if n >= PER_LANG:
                break
            if it["p"] in seen:
                continue
            seen.add(it["p"])
            kind = make_fresh.weighted_kind(rng, KINDS[it["source"]])
            qlang, prompt = wrap(rng, kind, lang, it)
            rows.append({"prompt": prompt, "lang": lang, "ask": qlang, "kind": kind,
                         "source": it["source"], "package": it["package"]})
            used[it["package"]] = used.get(it["package"], 0) + 1
            n += 1
        print(f"{lang}: {n} prompts", file=sys.stderr)
    random.Random(a.seed).shuffle(rows)
    with open(a.out, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    with open(a.sources, "w", encoding="utf-8") as f:
        f.write("package\tversion\tlicence (debian/copyright, first License field)\trows\n")
        for pkg in sorted(used):
            f.write(f"{pkg}\t{make_fresh.pkg_version(pkg)}\t{licence(pkg)}\t{used[pkg]}\n")
    print(f"{len(rows)} rows -> {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
