#!/bin/sh
# make-demo-backup.sh — the nightly backup a customer sends, for the bundled
# hybrid-restore runbook and its tests: a real SQLite database, dumped as SQL,
# encrypted with age to the customer's key, its checksum file (sha256sum's
# output) and a manifest (each table's row count) beside it.
#
# Environment:
#   BACKUP_DIR        where the backup lands (created 0700; must be ours)
#   BACKUP_FILE       the backup's file name (default acme.sql.age); its
#                     checksum file is BACKUP_FILE.sha256, the manifest
#                     BACKUP_FILE.manifest, the demo VM's XML acme-db-01.xml
#   KEY_FILE          the customer's age identity (default
#                     BACKUP_DIR/demo-key.txt), created when missing
#   BACKUP_AGE_HOURS  how old the backup is (its modification time, which is
#                     what the runbook checks against the RPO); default 1
#   INVOICES          rows in the invoices table (default 5000)
# Needs sqlite3, age, age-keygen and sha256sum (Debian: sqlite3, age,
# coreutils).
set -eu
umask 077
: "${BACKUP_DIR:?set BACKUP_DIR to the directory the backup lands in}"
file=${BACKUP_FILE:-acme.sql.age}
key=${KEY_FILE:-$BACKUP_DIR/demo-key.txt}
hours=${BACKUP_AGE_HOURS:-1}
invoices=${INVOICES:-5000}
for tool in sqlite3 age age-keygen sha256sum; do
	command -v "$tool" >/dev/null || { echo "make-demo-backup: $tool is missing (apt-get install sqlite3 age)" >&2; exit 1; }
done

mkdir -p "$BACKUP_DIR"
[ -O "$BACKUP_DIR" ] || { echo "make-demo-backup: $BACKUP_DIR belongs to another account; refusing to write a backup there" >&2; exit 1; }
chmod 700 "$BACKUP_DIR"
[ -s "$key" ] || age-keygen -o "$key" 2>/dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sqlite3 -bail "$work/acme.db" <<SQL
CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE invoices (
  id INTEGER PRIMARY KEY,
  customer_id INTEGER NOT NULL REFERENCES customers(id),
  total_cents INTEGER NOT NULL,
  issued TEXT NOT NULL
);
CREATE INDEX invoices_by_customer ON invoices(customer_id);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40)
  INSERT INTO customers SELECT i, 'customer ' || i FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $invoices)
  INSERT INTO invoices SELECT i, 1 + i % 40, (i * 7919) % 100000, date('2026-01-01', '+' || (i % 330) || ' days') FROM n;
SQL
sqlite3 -bail "$work/acme.db" .dump >"$work/acme.sql"

age -r "$(age-keygen -y "$key")" -o "$BACKUP_DIR/$file.part" "$work/acme.sql"
mv "$BACKUP_DIR/$file.part" "$BACKUP_DIR/$file"
taken=$(($(date +%s) - hours * 3600))
touch -d "@$taken" "$BACKUP_DIR/$file"
# The checksum file, as backup tools ship it: sha256sum's own output, the
# line naming the backup by its file name.
(cd "$BACKUP_DIR" && sha256sum "$file") >"$BACKUP_DIR/$file.sha256"
{
	echo "# backup manifest: written with the backup, checked by the restore"
	echo "created_at $(date -u -d "@$taken" +%Y-%m-%dT%H:%M:%SZ)"
	for t in customers invoices; do
		echo "rows $t $(sqlite3 -readonly "$work/acme.db" "SELECT count(*) FROM $t")"
	done
} >"$BACKUP_DIR/$file.manifest"
printf "<domain type='kvm'><name>acme-db-01</name><memory unit='MiB'>2048</memory><os><type>hvm</type></os></domain>\n" >"$BACKUP_DIR/acme-db-01.xml"
echo "demo backup of acme: $BACKUP_DIR/$file ($(wc -c <"$BACKUP_DIR/$file") bytes, $invoices invoices, ${hours}h old)"
