#!/usr/bin/env bash
# The man page docs/asyncdl.1 must stay true to `asyncdl --help`:
#   - every option --help names (long, and short such as -q) is the tag of a
#     .TP entry in OPTIONS;
#   - OPTIONS names no option (in its .TP tags and .B/.BI/.BR lines) that
#     --help lacks;
#   - EXIT STATUS has a .TP entry for 0, 1, 2, 3 and 130 and for every
#     status --help lists, and mentions 143 (SIGTERM);
#   - the .TH line carries the version `asyncdl --version` prints;
#   - groff, where installed, formats it with no warning (-ww).
# Then the checker proves it can fail: copies of the page with an option
# deleted, an option --help lacks, or a missing exit status must be refused.
# Usage: test-man.sh ASYNCDL MANPAGE
set -u
asyncdl=$1 page=$2
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

[ -r "$page" ] || fail "no man page at $page"
"$asyncdl" --help >"$d/help" || fail "asyncdl --help exited $?"
version=$("$asyncdl" --version 2>/dev/null | awk 'NR == 1 {print $2}')
[ -n "$version" ] || fail "asyncdl --version printed no version"

# What --help offers: every long option it names, the short options of its
# option lines ("  -q, --quiet"), the exit statuses of its "Exit status:"
# block.
grep -oE -- '--[A-Za-z0-9][A-Za-z0-9-]*' "$d/help" | sort -u >"$d/help-long"
grep -oE -- '^ +-[A-Za-z0-9],' "$d/help" | tr -d ' ,' | sort -u >"$d/help-short"
awk '/^Exit status:/ {on=1; next} on && /^$/ {exit}
     on && match($0, /^ +[0-9]+ /) {print $1}' "$d/help" | sort -u >"$d/help-exit"
[ "$(wc -l <"$d/help-long")" -ge 20 ] ||
  fail "found only $(wc -l <"$d/help-long") long options in --help"
[ -s "$d/help-short" ] || fail "found no short options in --help"
[ -s "$d/help-exit" ] || fail "found no exit statuses in --help"
{ cat "$d/help-exit"; printf '%s\n' 0 1 2 3 130; } | sort -u >"$d/want-exit"

# Prints one line per problem with PAGE; its output is empty when PAGE is
# true to --help.
check_page() {
  local p=$1 plain=$d/plain.$$
  # Roff escapes that can sit inside an option name: \- and \(hy are hyphens,
  # \% \& \: are invisible, \fB \fI \fR \fP \f(CW change the font.
  sed -e 's/\\-/-/g' -e 's/\\(hy/-/g' -e 's/\\[%&:]//g' \
      -e 's/\\f([A-Za-z][A-Za-z]//g' -e 's/\\f[A-Za-z0-9]//g' "$p" >"$plain"
  # Section by section: "TAG<tab>SECTION<tab>LINE" for the tag line of each
  # .TP entry, "FONT<tab>SECTION<tab>LINE" for every .B/.BI/.BR/.RB/.IB line.
  awk -v OFS='\t' '
    /^\.SH/ {sub(/^\.SH[ \t]+/, ""); gsub(/"/, ""); sec = $0; tp = 0; next}
    /^\.TP/ {tp = 1; next}
    tp && /^\.(PD|IP|ns)/ {next}
    tp {tp = 0; print "TAG", sec, $0}
    /^\.(B|BI|BR|RB|IB)[ \t]/ {print "FONT", sec, $0}
  ' "$plain" >"$plain.lines"
  awk -F'\t' '$2 == "OPTIONS" && $1 == "TAG" {print $3}' "$plain.lines" \
    >"$plain.tags"
  awk -F'\t' '$2 == "OPTIONS" {print $3}' "$plain.lines" >"$plain.named"
  grep -oE -- '--[A-Za-z0-9][A-Za-z0-9-]*' "$plain.tags" | sort -u >"$plain.tag-long"
  grep -oE -- '(^|[ "])-[A-Za-z0-9]([ ",]|$)' "$plain.tags" |
    grep -oE -- '-[A-Za-z0-9]' | sort -u >"$plain.tag-short"
  grep -oE -- '--[A-Za-z0-9][A-Za-z0-9-]*' "$plain.named" | sort -u >"$plain.named-long"
  grep -oE -- '(^|[ "])-[A-Za-z0-9]([ ",]|$)' "$plain.named" |
    grep -oE -- '-[A-Za-z0-9]' | sort -u >"$plain.named-short"

  [ -s "$plain.tags" ] || echo "no .TP entries in an OPTIONS section"
  comm -23 "$d/help-long" "$plain.tag-long" | sed 's/$/: in --help, not a .TP entry of OPTIONS/'
  comm -23 "$d/help-short" "$plain.tag-short" | sed 's/$/: in --help, not a .TP entry of OPTIONS/'
  comm -13 "$d/help-long" "$plain.named-long" | sed 's/$/: named in OPTIONS, unknown to --help/'
  comm -13 "$d/help-short" "$plain.named-short" | sed 's/$/: named in OPTIONS, unknown to --help/'

  # Exit statuses: a .TP entry whose tag is the number alone.
  awk -F'\t' '$1 == "TAG" && $2 == "EXIT STATUS" {
      t = $3; sub(/^\.[A-Z]+[ \t]+/, "", t); gsub(/[ \t"]/, "", t); print t}' \
    "$plain.lines" | sort -u >"$plain.exit"
  comm -23 "$d/want-exit" "$plain.exit" | sed 's/$/: no .TP entry for this status in EXIT STATUS/'
  awk '/^\.SH/ {on = ($0 ~ /EXIT STATUS/); next} on' "$plain" | grep -qw 143 ||
    echo "143: SIGTERM's status not mentioned in EXIT STATUS"

  local th
  th=$(awk '/^\.TH/ {print; exit}' "$plain")
  case "$th" in
  *"asyncdl $version"*) ;;
  *) echo ".TH does not name asyncdl $version (asyncdl --version): $th" ;;
  esac
  rm -f "$plain" "$plain".*
}

check_page "$page" >"$d/problems"
if [ -s "$d/problems" ]; then
  sed 's/^/FAIL: /' "$d/problems" >&2
  fail "$page is not true to asyncdl --help"
fi
echo "ok: $(wc -l <"$d/help-long") long and $(wc -l <"$d/help-short") short options of --help, exit statuses $(sort -n "$d/want-exit" | tr "\n" " ")documented"

if command -v groff >/dev/null 2>&1; then
  groff -man -ww -z "$page" 2>"$d/groff" || fail "groff exited $?"
  [ ! -s "$d/groff" ] || { cat "$d/groff" >&2; fail "groff warns"; }
  echo "ok: groff -man -ww formats it without warnings"
else
  echo "groff not installed: not formatting the page"
fi

# The checker itself: each of these copies must be refused.
mutant() { # NAME: the copy is $d/mutant; it must produce a problem
  ! cmp -s "$page" "$d/mutant" ||
    fail "the mutation '$1' no longer applies to $page: update this test"
  check_page "$d/mutant" >"$d/mutant.problems"
  [ -s "$d/mutant.problems" ] ||
    fail "the check passes a page with $1"
  echo "ok: a page with $1 is refused: $(head -n 1 "$d/mutant.problems")"
}
# 1. One option deleted: every line naming --connect-timeout (not
#    --timeout, which it contains).
grep -v -- '\\-\\-connect\\-timeout' "$page" >"$d/mutant"
mutant "--connect-timeout deleted"
# 2. A short option's entry deleted (the tag only keeps --quiet).
sed 's/^\.BR \\-q ", " \\-\\-quiet$/.B \\-\\-quiet/' "$page" >"$d/mutant"
mutant "-q deleted"
# 3. An option --help lacks.
awk '{print} /^\.SS Network/ {print ".TP"; print ".BI \\-\\-bandwidth= RATE";
     print "Limit the bandwidth."}' "$page" >"$d/mutant"
mutant "an option --help lacks (--bandwidth)"
# 4. Exit status 130 missing.
awk '/^\.SH EXIT STATUS/ {on=1} /^\.SH ENV/ {on=0}
     on && /^\.B 130$/ {print ".B 129"; next} {print}' "$page" >"$d/mutant"
mutant "no entry for exit status 130"
# 5. Another version.
sed '/^\.TH/s/asyncdl [0-9][0-9.]*/asyncdl 0.0.0/' "$page" >"$d/mutant"
mutant "another version in .TH"
echo "ok: the man page is true to asyncdl --help"
