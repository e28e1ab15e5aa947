#!/usr/bin/env bash
# Generates the manual pages rasdial(1), rasmand(8) and fakemodem(1) from the tools' argument
# parsers with swift-argument-parser's generate-manual plugin, into DIR (default .build/man).
# CONFIGURATION=debug reuses a debug build (the plugin builds release by default).
# Install: sudo install -m 0644 DIR/*.1 /usr/local/share/man/man1/ and DIR/*.8 into man8.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-.build/man}"
mkdir -p "$out"
swift package --allow-writing-to-directory "$out" generate-manual \
    --configuration "${CONFIGURATION:-release}" --authors "swift-ras developers" --output-directory "$out"
# The plugin gives every tool section 1; rasmand is a daemon: section 8.
sed -e 's/^\.Dt RASMAND 1$/.Dt RASMAND 8/' "$out/rasmand.1" > "$out/rasmand.8"
rm -f "$out/rasmand.1"
ls "$out"
