#!/usr/bin/env bash
# The demo traffic shows the product: `custos gen --attacks` at 200 events/s,
# analysed with the demo's settings (scripts/demo.yaml), raises within the
# first M minutes of event time an incident from each detector for the
# attacker that gen names on stderr: probing (jailbreaks and system-prompt
# extraction, one key each), extraction, leakage, flood (error storm) and
# drift (the cycle's acme-support-ft version); and no incident for any other
# key (benign keys and the drifting model's 64 users alike: none is allowed).
# Then each attacker is taken out in turn (its events removed) and the scorer
# must report exactly that one missing: the check can fail.
. "$(dirname "$0")/../../lib/env.sh"
B=$CUSTOS_BIN
CFG=$CUSTOS_SOURCE_DIR/scripts/demo.yaml
START=2026-11-20T00:00:00Z
# minutes: every detector's first incident must be detected by then. Five
# detectors fire within 2.5 minutes; the extraction key is new, and a new
# key is judged on volume only against the fleet's per-key 5-minute
# population (docs/analytics.md, "cold keys"), which has no sample before
# the first 5-minute fold: extraction fires just after 5 minutes.
M=6
N=84000  # events: 7 minutes at 200 events/s, the first 7 minutes of cycle 0
SEED=${SEED:-1}

"$B" gen --attacks --count "$N" --seed "$SEED" --eps 200 --start "$START" \
    >"$T_DIR/events.jsonl" 2>"$T_DIR/gen.err" || t_fail "gen: $(cat "$T_DIR/gen.err")"
key() { grep -o "$1 [A-Za-z0-9_]*" "$T_DIR/gen.err" | head -n1 | awk '{print $NF}'; }
KJ=$(key 'jailbreak burst from key')
KS=$(key 'system-prompt extraction burst from key')
KX=$(key 'model extraction from key')
KL=$(key 'leaking answers to key')
KF=$(key 'error storm from key')
DV=$(key 'drift of model acme-support-ft version')
for v in KJ KS KX KL KF DV; do [ -n "${!v}" ] || t_fail "gen named no $v: $(cat "$T_DIR/gen.err")"; done

# score FILE: one row per attacker, | expect | subject | first detected (min) | met |,
# then "benign keys with incidents: K"; exits 1 when a row is not met or K > 0.
score() {
    python3 - "$1" "$START" "$M" "$KJ" "$KS" "$KX" "$KL" "$KF" "$DV" <<'PY'
import json, sys
from datetime import datetime
path, start, m = sys.argv[1], sys.argv[2], float(sys.argv[3])
kj, ks, kx, kl, kf, dv = sys.argv[4:10]
t = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
t0 = t(start)
expect = [("probing", kj, "jailbreak"), ("probing", ks, "sysprompt"), ("extraction", kx, "extraction"),
          ("leakage", kl, "leakage"), ("flood", kf, "flood"), ("drift", dv, "drift")]
attackers = {kj, ks, kx, kl, kf}
incs = [json.loads(l) for l in open(path) if l.strip()]
bad = 0
for typ, subj, name in expect:
    ts = [t(i["detected_at"]) for i in incs if i["type"] == typ and
          (i.get("api_key_id") == subj if typ != "drift" else
           i["model"] == "acme-support-ft" and i["model_version"] == subj)]
    first = (min(ts) - t0) / 60 if ts else None
    met = first is not None and first <= m
    bad |= not met
    print("| %s | %s | %s | %s |" % (name, subj, "%.2f" % first if ts else "none", "yes" if met else "no"))
benign = sorted({i["api_key_id"] for i in incs if i.get("api_key_id") and i["api_key_id"] not in attackers})
print("benign keys with incidents: %d %s" % (len(benign), " ".join(benign[:5])))
print("incidents: %d" % len(incs))
sys.exit(1 if bad or benign else 0)
PY
}

"$B" analyze --config "$CFG" --log-level warn "$T_DIR/events.jsonl" >"$T_DIR/all.jsonl" ||
    t_fail "analyze failed"
score "$T_DIR/all.jsonl" >"$T_DIR/score.txt" || { cat "$T_DIR/score.txt" >&2; t_fail "the demo traffic misses a detector (seed $SEED)"; }
cat "$T_DIR/score.txt" >&2

# take each attacker out: exactly its row must go unmet
for drop in "jailbreak:\"api_key_id\":\"$KJ\"" "sysprompt:\"api_key_id\":\"$KS\"" \
            "extraction:\"api_key_id\":\"$KX\"" "leakage:\"api_key_id\":\"$KL\"" \
            "flood:\"api_key_id\":\"$KF\"" "drift:\"model_version\":\"$DV\""; do
    name=${drop%%:*}; pat=${drop#*:}
    grep -vF "$pat" "$T_DIR/events.jsonl" >"$T_DIR/without.jsonl"
    [ "$(wc -l <"$T_DIR/without.jsonl")" -lt "$N" ] || t_fail "no events of $name to remove"
    "$B" analyze --config "$CFG" --log-level warn "$T_DIR/without.jsonl" >"$T_DIR/without.inc" ||
        t_fail "analyze without $name failed"
    if score "$T_DIR/without.inc" >"$T_DIR/without.txt"; then
        t_fail "the scorer passed without the $name attacker: $(cat "$T_DIR/without.txt")"
    fi
    unmet=$(awk -F'|' '$5 ~ /no/ { gsub(/ /, "", $2); print $2 }' "$T_DIR/without.txt" | tr '\n' ' ')
    [ "$unmet" = "$name " ] || t_fail "without $name the unmet rows are [$unmet]: $(cat "$T_DIR/without.txt")"
done
t_log "seed $SEED: every detector within $M minutes, no benign key flagged; each attacker needed"
