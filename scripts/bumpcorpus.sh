#!/usr/bin/env bash
# bumpcorpus.sh MIRROR COMMIT NAME URL FROM=TO [FROM=TO ...]
# Takes one real commit that moved etcd pins out of a git mirror (the
# search tool's fetch) into pkg/repo/testdata/bump-corpus/NAME: the files
# the commit changed on lines naming a moved version (or etcd and a
# version), as they were before
# (before/) and after it (after/), and the moves (moves.txt, one
# "FROM TO" per line: what a maintainer asks repo bump to do).
set -euo pipefail
mirror=$1 commit=$2 name=$3 url=$4; shift 4
out=pkg/repo/testdata/bump-corpus/$name
git() { command git --git-dir "$mirror" "$@"; }
full=$(git rev-parse "$commit")
rm -rf "$out" && mkdir -p "$out/before" "$out/after"
: > "$out/moves.txt"
pattern=""
for m in "$@"; do
  from=${m%%=*} to=${m#*=}
  echo "$from $to" >> "$out/moves.txt"
  pattern="$pattern|${from//./\\.}|${to//./\\.}"
done
pattern=${pattern#|}
n=0
for f in $(git diff --name-only "$full^" "$full"); do
  # A changed line naming a moved version, or etcd and a version.
  if git diff "$full^" "$full" -- "$f" | grep -E '^[-+]' | grep -vE '^(---|\+\+\+)' | grep -qiE "$pattern|etcd.*3\.[0-9]"; then
    if git cat-file -e "$full^:$f" 2>/dev/null && git cat-file -e "$full:$f" 2>/dev/null; then
      mkdir -p "$out/before/$(dirname "$f")" "$out/after/$(dirname "$f")"
      git show "$full^:$f" > "$out/before/$f"
      git show "$full:$f" > "$out/after/$f"
      n=$((n+1))
    fi
  fi
done
cat > "$out/README.md" <<EOT
# $name

$url, commit $full:
$(git log -1 --format='%ad %s' --date=short "$full")

before/ and after/ hold the files the commit changed on lines naming a
moved version, at its parent and at the commit; moves.txt the moves
(FROM TO). Made with scripts/bumpcorpus.sh.
EOT
echo "$out: $n files"
