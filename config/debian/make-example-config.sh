#!/bin/sh
# Writes the Debian package's /etc/tickvault/tickvault.toml from config/default.toml, with every
# setting commented out (`#key = value`, `#[section]`) so that the file, untouched, changes
# nothing. Run it after changing config/default.toml:
#
#   config/debian/make-example-config.sh > config/debian/tickvault.toml
#
# tests/app/package.rs fails while the committed file differs from this script's output.
set -e
cd "$(dirname "$0")/../.."

cat <<'HEADER'
# tickvault's settings for the service: the unit runs
# `tickvault run --config /etc/tickvault/tickvault.toml`. A conffile: upgrades keep your changes.
#
# Every setting below is commented out and shows its default, which is compiled into the
# binary: untouched, this file changes nothing. To change a setting, uncomment it
# (`#key = value` becomes `key = value`) and the `[section]` line above it. Lines starting with
# `# ` explain, or show examples to copy.
#
# Layers, later ones winning: the compiled-in defaults; this file; environment variables
# TICKVAULT__SECTION__KEY (the unit sets TICKVAULT__PATHS__STATE_DIR and
# TICKVAULT__PATHS__DATA_DIR). An unknown key or a bad value stops start-up with exit status 78
# and a line naming the key.
#
# Secrets never go here: /etc/tickvault/credentials/ holds them (operations guide, section 3:
# /usr/share/doc/tickvault/operations.md). To follow the holiday calendar in
# /etc/tickvault/nse.toml, set holidays_file = "/etc/tickvault/nse.toml" under [schedule].
#
# Generated from config/default.toml by config/debian/make-example-config.sh.

HEADER
# default.toml's own header (up to the first blank line) describes the defaults file itself.
sed -e '1,/^$/d' -e 's/^\([^#]\)/#\1/' config/default.toml
