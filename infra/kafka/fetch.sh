#!/usr/bin/env bash
# Fetch the jars of a single-node Apache Kafka broker into a cache outside the
# clone and print the directory that holds them (the only thing on stdout, so
# callers can do: libs="$(infra/kafka/fetch.sh)").
#
# Why Maven and not the Kafka tarball: the only network here is the package
# registries, and Maven Central carries every broker jar. pom.xml beside this
# script lists them; Maven resolves the transitive closure into ~/.m2 and
# copies it into the cache.
#
# Idempotent: a stamp file records the checksum of pom.xml once the copy is
# complete; with a matching stamp nothing is fetched (no Maven start-up either,
# which alone costs a few seconds).
#
# Environment:
#   CAREERLOOP_CACHE  cache root (default: $HOME/.cache/careerloop)
#   MVN               Maven command (default: mvn)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pom="$here/pom.xml"

# The Kafka version names the cache directory, so two checkouts pinned to
# different versions never share (and clobber) one libs directory.
kafka_version="$(sed -n 's:.*<kafka\.version>\([^<]*\)</kafka\.version>.*:\1:p' "$pom")"
if [[ -z "$kafka_version" ]]; then
  echo "fetch.sh: cannot read <kafka.version> from $pom" >&2
  exit 1
fi

cache_root="${CAREERLOOP_CACHE:-$HOME/.cache/careerloop}"
dest="$cache_root/kafka-$kafka_version"
libs="$dest/libs"
stamp="$dest/libs.complete"
# The stamp holds the checksum of the POM, not just "done": editing a pinned
# version (e.g. log4j) without bumping Kafka must still trigger a fetch.
want="$(sha256sum "$pom" | cut -d' ' -f1)"

is_complete() {
  [[ -f "$stamp" && -d "$libs" && "$(cat "$stamp")" == "$want" ]]
}

if is_complete; then
  echo "$libs"
  exit 0
fi

mkdir -p "$dest"
# Two test runs starting at once (e.g. parallel CI jobs on one machine) must
# not both write into libs/: serialise on a lock and re-check under it.
exec 9>"$dest/.fetch.lock"
flock 9
if is_complete; then
  echo "$libs"
  exit 0
fi

mvn_cmd="${MVN:-mvn}"
if ! command -v "$mvn_cmd" >/dev/null 2>&1; then
  echo "fetch.sh: '$mvn_cmd' not found; install Maven (Debian: apt-get install -y maven)" >&2
  exit 1
fi

# Work on a copy of the POM inside the cache so Maven never writes anything
# (target/, etc.) into the clone, and copy into a temporary directory that is
# renamed into place only when complete: an interrupted fetch leaves no
# half-filled libs/ behind that a later run could mistake for a good one.
tmp="$(mktemp -d "$dest/libs.tmp.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
cp "$pom" "$dest/pom.xml"

echo "fetch.sh: fetching Kafka $kafka_version broker jars into $libs ..." >&2
start_s=$SECONDS
# stdout of Maven goes to stderr: our stdout is reserved for the libs path.
# (style.color=never: no colour codes where Maven honours it; Debian's 3.8.7
# still prints a few bare ESC[0m, harmless on stderr.)
"$mvn_cmd" -B -q -f "$dest/pom.xml" \
  org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
  -Dstyle.color=never \
  -DincludeScope=runtime \
  -DoutputDirectory="$tmp" >&2

# Sanity check before declaring success: the broker jar and the SLF4J binding
# are the two whose absence would only show up later as a confusing failure.
for required in "kafka_2.13-$kafka_version.jar" "kafka-server-$kafka_version.jar" log4j-slf4j-impl-*.jar log4j-core-*.jar; do
  if ! compgen -G "$tmp/$required" >/dev/null; then
    echo "fetch.sh: $required missing after Maven copy; refusing to mark the cache complete" >&2
    exit 1
  fi
done

rm -rf "$libs"
mv "$tmp" "$libs"
trap - EXIT
echo "$want" >"$stamp"
echo "fetch.sh: fetched $(find "$libs" -name '*.jar' | wc -l) jars in $((SECONDS - start_s))s" >&2
echo "$libs"
