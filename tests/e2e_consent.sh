#!/usr/bin/env bash
# e2e_consent.sh — `swaplab consent init|verify|revoke|show` from the command line: help, exit
# codes, refusals naming the file, tampering, drafts, signatures and revocation.
. "$(dirname "$0")/e2e.sh"
export HOME=$E2E_TMP/home XDG_CONFIG_HOME=$E2E_TMP/config
unset SWAPLAB_REVOCATIONS
S=$SWAPLAB
T=$E2E_TMP
today=$(date -u +%F)
future=$(date -u -d '+1 year' +%F)

# A face set of random bytes under image names (the gate hashes files; it does not decode them).
mkset() {
  mkdir -p "$1/aligned" "$1/frames"
  for i in 0 1 2; do head -c $((64 + RANDOM % 64)) /dev/urandom >"$1/aligned/000$i.png"; done
  head -c 80 /dev/urandom >"$1/frames/0000.png"
}
init() { "$S" consent init "$@" --coordinator "Course TA" --scopes train,swap --expires "$future"; }

check "consent --help lists the subcommands" bash -c '"$SWAPLAB" consent --help | grep -q "revoke \[SUBJECT\]"'
for sub in init verify revoke show; do
  check "consent $sub --help" bash -c "\"\$SWAPLAB\" consent $sub --help | grep -q 'usage: swaplab consent $sub'"
done
check_fails "no subcommand exits 2" 2 "usage: swaplab consent" "$S" consent
check_fails "unknown subcommand exits 2" 2 "unknown subcommand 'frob'" "$S" consent frob
check_fails "unknown flag exits 2" 2 "unknown option" "$S" consent verify "$T" --frob

mkset "$T/a"
check_fails "verify without a manifest is refused" 1 "a/consent.json: missing consent manifest" "$S" consent verify "$T/a"
check_fails "init needs --subject" 2 "--subject is required" "$S" consent init "$T/a" --coordinator X --scopes train --expires "$future"
check_fails "init needs --expires" 2 "--expires is required" "$S" consent init "$T/a" --subject v1 --coordinator X --scopes train
check_fails "init needs --coordinator" 2 "--coordinator is required" "$S" consent init "$T/a" --subject v1 --scopes train --expires "$future"
check_fails "init refuses an unknown scope" 2 "unknown scope 'impersonate'" "$S" consent init "$T/a" --subject v1 --coordinator X --scopes train,impersonate --expires "$future"
check_fails "init refuses an expiry in the past" 1 "in the past" "$S" consent init "$T/a" --subject v1 --coordinator X --scopes train --expires 2020-01-01
check_fails "init refuses a real-looking name" 1 "pseudonym" init "$T/a" --subject "Jane Doe"
check "init records consent" init "$T/a" --subject vol-001
check "consent.json lists 4 images" bash -c "grep -c '\"sha256\"' '$T/a/consent.json' | grep -qx 4"
check_fails "init does not overwrite silently" 1 "already records consent" init "$T/a" --subject vol-001
check "init --force replaces it" init "$T/a" --subject vol-001 --force --statement "Agreed to train and swap."
check "verify accepts it" "$S" consent verify "$T/a" --use train
check_fails "verify --use outside the scope" 1 "scope \"report\" is missing" "$S" consent verify "$T/a" --use report
check_fails "verify --use takes one use" 2 "--use takes one of" "$S" consent verify "$T/a" --use train,swap
check "show prints the manifest" bash -c "\"\$SWAPLAB\" consent show '$T/a' | grep -q 'subject      vol-001' && \"\$SWAPLAB\" consent show '$T/a' | grep -q 'gate         valid'"

# tampering: one changed byte, an added image, a removed image — each named
cp -r "$T/a" "$T/b"
perl -e 'open(F, "+<", $ARGV[0]) or die; seek(F, 40, 0); read(F, $c, 1); seek(F, 40, 0); print F chr(ord($c) ^ 0xff)' \
  "$T/b/aligned/0001.png" # one byte flipped, whatever it was
cp "$T/b/aligned/0000.png" "$T/b/aligned/0009.png"
rm "$T/b/frames/0000.png"
check_fails "tampered image named" 1 "b/aligned/0001.png: image changed since consent" "$S" consent verify "$T/b"
check_fails "added image named" 1 "b/aligned/0009.png: image added since consent" "$S" consent verify "$T/b"
check_fails "removed image named" 1 "b/frames/0000.png: image removed since consent" "$S" consent verify "$T/b"
check_fails "several dirs: one refused means exit 1" 1 "a: ok" "$S" consent verify "$T/a" "$T/b"

# expiry and malformed JSON (edited by hand)
cp -r "$T/a" "$T/c"
sed -i "s/\"expires\": \"$future\"/\"expires\": \"2021-03-04\"/" "$T/c/consent.json"
check_fails "expired consent refused" 1 "consent expired on 2021-03-04" "$S" consent verify "$T/c"
sed -i 's/"status": "complete",/"status": "complete"/' "$T/c/consent.json"
check_fails "malformed JSON names line and column" 1 "c/consent.json:[0-9]+:[0-9]+: malformed JSON" "$S" consent verify "$T/c"

# revocation: explicit file, then the environment variable, then the per-user default
R=$T/rev/revoked.json
check_fails "revoke needs --reason" 2 "--reason is required" "$S" consent revoke vol-001 --revocations "$R"
check "revoke writes the list" "$S" consent revoke vol-001 --reason "withdrew by email" --revocations "$R"
check "the list names the subject" grep -q '"subject": "vol-001"' "$R"
check_fails "revoked subject refused" 1 "subject 'vol-001' revoked consent" "$S" consent verify "$T/a" --revocations "$R"
check_fails "revoked via SWAPLAB_REVOCATIONS" 1 "revoked consent" env SWAPLAB_REVOCATIONS="$R" "$S" consent verify "$T/a"
check "revoking twice is harmless" bash -c "\"\$SWAPLAB\" consent revoke vol-001 --reason again --revocations '$R' | grep -q 'already revoked'"
check_fails "init refuses a revoked subject" 1 "revocation list" init "$T/a" --subject vol-001 --force --revocations "$R"
check "revoke to the per-user default list" "$S" consent revoke vol-001 --reason "withdrew"
check "default list is under XDG_CONFIG_HOME" test -f "$XDG_CONFIG_HOME/swaplab/revoked.json"
check_fails "default list is used by verify" 1 "revoked consent" "$S" consent verify "$T/a"
echo '{"format": "swaplab-revocations/1", "revoked": [' >"$T/bad.json"
check_fails "unreadable revocation list fails closed" 1 "refusing" "$S" consent verify "$T/a" --revocations "$T/bad.json"

# signatures
R2=$T/empty-rev.json
echo '{"format": "swaplab-revocations/1", "revoked": []}' >"$R2"
check "keygen" "$S" keygen --out "$T/coord"
mkset "$T/d"
echo "The subject agreed to training and swapping for the 2026 lab." >"$T/statement.txt"
check "init --sign with a statement file" init "$T/d" --subject vol-002 --sign "$T/coord.key" --statement-file "$T/statement.txt"
check "verify --pub accepts the signed manifest" "$S" consent verify "$T/d" --pub "$T/coord.pub" --revocations "$R2"
check "show says the signature verified" bash -c "\"\$SWAPLAB\" consent show '$T/d' --revocations '$R2' | grep -q 'signature verified'"
check "keygen another" "$S" keygen --out "$T/other"
check_fails "verify --pub with another key" 1 "not by the required coordinator key" "$S" consent verify "$T/d" --pub "$T/other.pub" --revocations "$R2"
sed -i 's/"train",/"train", "dataset",/' "$T/d/consent.json"
check_fails "a signed manifest edited afterwards" 1 "bad signature" "$S" consent verify "$T/d" --revocations "$R2"

# a draft (as extract writes it) is refused until init completes it
mkset "$T/e"
{
  printf '{"format": "swaplab-consent/1", "status": "draft", "created": "%s", "source": "photos/s1", "images": [' "$today"
  sep=""
  for f in aligned/0000.png aligned/0001.png aligned/0002.png frames/0000.png; do
    printf '%s{"path": "%s", "sha256": "%s"}' "$sep" "$f" "$(sha256sum "$T/e/$f" | cut -c1-64)"; sep=", "
  done
  printf ']}\n'
} >"$T/e/consent.json"
check_fails "a draft is refused" 1 "draft manifest" "$S" consent verify "$T/e" --revocations "$R2"
cp -r "$T/e" "$T/f"
head -c 70 /dev/urandom >"$T/f/aligned/0002.png"
check_fails "init refuses a draft whose images changed" 1 "differ from the draft" init "$T/f" --subject vol-003 --revocations "$R2"
check "init --rescan records them anyway" init "$T/f" --subject vol-003 --revocations "$R2" --rescan
check "init completes the draft" init "$T/e" --subject vol-004 --revocations "$R2"
check "the completed draft keeps its source" grep -q '"source": "photos/s1"' "$T/e/consent.json"
check "the completed draft is accepted" "$S" consent verify "$T/e" --use swap --revocations "$R2"
# issue 14.1: a reason that is not UTF-8 used to print "revoked", exit 0 and write "revoked": []
R3=$T/rev3/revoked.json
check "revoke with a non-UTF-8 reason" "$S" consent revoke vol-002 --reason "$(printf 'withdrew \xff\xfe')" --revocations "$R3"
check "the non-UTF-8 revocation is in the list" grep -q '"subject": "vol-002"' "$R3"
check_fails "and the gate refuses the subject" 1 "subject 'vol-002' revoked consent" "$S" consent verify "$T/d" --revocations "$R3"

# issue 14.4: a missing --revocations file is an error, not an empty list
check_fails "a missing --revocations file is refused" 1 "no revocation list there" \
  "$S" consent verify "$T/d" --revocations "$T/no-such-list.json"

# revocation by manifest digest
cp -r "$T/a" "$T/g"
"$S" consent init "$T/g" --subject vol-010 --force --coordinator "Course TA" --scopes train,swap --expires "$future" --revocations "$R2" >/dev/null
cp -r "$T/g" "$T/g2"
"$S" consent init "$T/g2" --subject vol-010 --force --coordinator "Course TA" --scopes train --expires "$future" --revocations "$R2" >/dev/null
R4=$T/rev4.json
check "revoke one manifest with --manifest" "$S" consent revoke --manifest "$T/g" --reason "recorded in error" --revocations "$R4"
check_fails "the revoked manifest is refused" 1 "this manifest .* was revoked" "$S" consent verify "$T/g" --revocations "$R4"
check "another manifest of the same subject is not" "$S" consent verify "$T/g2" --revocations "$R4"
check "revoke by --digest" "$S" consent revoke --digest "$(sha256sum "$T/g2/consent.json" | cut -c1-64)" --reason x --revocations "$R4"
check_fails "the digest-revoked manifest is refused" 1 "this manifest" "$S" consent verify "$T/g2" --revocations "$R4"
check_fails "revoke needs a subject or a manifest" 2 "name a SUBJECT" "$S" consent revoke --reason x --revocations "$R4"

# issue 14.4: the lab policy
P=$T/course
mkdir -p "$P"
check "keygen for the policy's coordinator" "$S" keygen --out "$P/coord"
printf '{"format": "swaplab-policy/1", "course": "e2e", "coordinators": [{"name": "TA", "public_key": "%s"}], "revocations": "revoked.json"}\n' \
  "$(sed -n 2p "$P/coord.pub")" >"$P/policy.json"
mkset "$T/h"
init "$T/h" --subject vol-020 --revocations "$R2" >/dev/null
check_fails "under --policy an unsigned manifest is refused" 1 "not signed, but the lab policy" \
  "$S" consent verify "$T/h" --policy "$P/policy.json"
check_fails "under --policy a missing revocation list is refused" 1 "no revocation list there" \
  "$S" consent verify "$T/h" --policy "$P/policy.json"
init "$T/h" --subject vol-020 --force --sign "$T/coord.key" --revocations "$R2" >/dev/null
check_fails "under the policy a manifest signed by another key is refused" 1 "not a coordinator key" \
  "$S" consent verify "$T/h" --policy "$P/policy.json"
init "$T/h" --subject vol-020 --force --sign "$P/coord.key" --revocations "$R2" >/dev/null
check_fails "revoking under the policy needs --sign" 1 "must be signed by a coordinator" \
  "$S" consent revoke vol-099 --reason x --policy "$P/policy.json"
check "revoke --create makes the policy's empty signed list" "$S" consent revoke --create --policy "$P/policy.json" --sign "$P/coord.key"
check "a coordinator-signed manifest with the empty signed list is accepted" "$S" consent verify "$T/h" --policy "$P/policy.json"
check_fails "revoke --create keeps an existing list" 1 "already there" "$S" consent revoke --create --policy "$P/policy.json" --sign "$P/coord.key"
check "revoke --sign adds to the policy's signed list" "$S" consent revoke vol-099 --reason x --policy "$P/policy.json" --sign "$P/coord.key"
check "the policy's list is signed" grep -q '"signature"' "$P/revoked.json"
check "a coordinator-signed manifest with a signed list is accepted" "$S" consent verify "$T/h" --policy "$P/policy.json"
check "the policy from the per-user config applies too" bash -c \
  "cp '$P/policy.json' '$XDG_CONFIG_HOME/swaplab/policy.json' && sed -i 's#\"revoked.json\"#\"$P/revoked.json\"#' '$XDG_CONFIG_HOME/swaplab/policy.json' && ! \"\$SWAPLAB\" consent verify '$T/a' 2>/dev/null | grep -q ': ok'"
rm -f "$XDG_CONFIG_HOME/swaplab/policy.json"
sed -i 's/vol-099/vol-020/' "$P/revoked.json"
check_fails "an edited signed list is refused" 1 "bad signature" "$S" consent verify "$T/h" --policy "$P/policy.json"
check_fails "another revocation list under the policy is refused" 1 "names the revocation list" \
  "$S" consent verify "$T/h" --policy "$P/policy.json" --revocations "$R2"
check_fails "a missing --policy file is refused" 1 "no lab policy file there" "$S" consent verify "$T/h" --policy "$T/nope.json"
# the commands that use face sets apply the policy too (synthetic sets included: they are unsigned)
check "synth 2 identities" "$S" synth --out "$T/syn" --identities 2 --frames 2 --size 96 --crop 64
check_fails "train --policy refuses unsigned manifests" 1 "not signed, but the lab policy" \
  "$S" train --facesets "$T/syn/synth-0001" "$T/syn/synth-0002" --out "$T/pol-run" --steps 1 --policy "$P/policy.json"
check "the refused train left no run directory" test ! -e "$T/pol-run"
check_fails "train under \$SWAPLAB_POLICY refuses them too" 1 "not signed, but the lab policy" \
  env SWAPLAB_POLICY="$P/policy.json" "$S" train --facesets "$T/syn/synth-0001" "$T/syn/synth-0002" --out "$T/pol-run" --steps 1
summary e2e_consent
