#!/bin/sh
# Runs once, on an empty data directory (the postgres image's /docker-entrypoint-initdb.d):
# one login role and one database per csops service, each service owning its own database.
# Passwords come from the services' dev Secrets (env CUSTOMERS_PASSWORD etc.).
set -eu
for svc in customers complaints visits feedback; do
  var="$(echo "$svc" | tr '[:lower:]' '[:upper:]')_PASSWORD"
  eval "password=\${$var}"
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v role="$svc" -v password="$password" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
CREATE DATABASE :"role" OWNER :"role";
SQL
done
