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
# A go.sum the commit changed without its go.mod (a module that replaces
# the bumped one by its directory, cluster-api's test/): its go.mod too.
for sum in $(cd "$out/before" && find . -name go.sum | sed 's|^\./||'); do
  m=$(dirname "$sum")/go.mod
  [ -e "$out/before/$m" ] && continue
  if git cat-file -e "$full^:$m" 2>/dev/null; then
    git show "$full^:$m" > "$out/before/$m"
    git show "$full:$m" > "$out/after/$m"
  fi
done
# The go.mod files a copied go.mod's directory replaces name (kratos'
# => ../../../, talos' => ./pkg/machinery): go get reads them, as it would
# in the whole tree.
for m in $(cd "$out/before" && find . -name go.mod | sed 's|^\./||'); do
  for r in $(grep -oE '=> *\.\.?/[^ ]*' "$out/before/$m" | sed 's/=> *//'); do
    t=$(realpath -m --relative-to=. "$(dirname "$m")/$r/go.mod")
    [ -e "$out/before/$t" ] && continue
    if git cat-file -e "$full^:$t" 2>/dev/null; then
      mkdir -p "$out/before/$(dirname "$t")" "$out/after/$(dirname "$t")"
      git show "$full^:$t" > "$out/before/$t"
      git show "$full:$t" > "$out/after/$t"
    fi
  done
done
# What each go.mod's module imports (imports/DIR/imports.txt), as the deps
# corpus keeps it: the test writes a stub package importing it, so that go
# mod tidy sees the module's real import graph.
for m in $(cd "$out/before" && find . -name go.mod | sed 's|^\./||'); do
  d=$(dirname "$m")
  [ -e "$out/before/$d/go.sum" ] || continue
  go run ./scripts/depscorpus -repo "$mirror" -commit "$full" -dir "$d" -name "$name" -imports "$out/imports/$d/imports.txt"
done
cat > "$out/README.md" <<EOT
# $name

$url, commit $full:
$(git log -1 --format='%ad %s' --date=short "$full")

before/ and after/ hold the files the commit changed on lines naming a
moved version, at its parent and at the commit (and the go.mod files
their directory replaces name); moves.txt the moves (FROM TO);
imports/DIR/imports.txt what the Go module in DIR imported at the parent
(the test stubs it, for go mod tidy). Made with scripts/bumpcorpus.sh.
EOT
echo "$out: $n files"
