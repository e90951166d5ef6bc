#!/bin/sh
# make-secrets.sh [DIR] — random passwords and keys for deploy/docker-compose.yml, written into
# DIR (default: deploy/docker/secrets beside this script) as the files the compose file names:
#   postgres_password  the PostgreSQL user siem's password (the postgres image reads it)
#   rabbitmq.conf      RabbitMQ's settings: the user siem, its password, the vhost siem
#   minisiem.conf      the hubs' config file: the PostgreSQL and broker URLs with those
#                      passwords, the agents' API key and the token signing secret
# Existing files are kept (delete them to make new ones; PostgreSQL and RabbitMQ take a new
# password only on an empty volume). The directory is 0700: the containers read the files
# through their mounts, others on this machine cannot.
set -eu
dir=${1:-$(dirname "$0")/secrets}
umask 077
mkdir -p "$dir"
chmod 700 "$dir"

# 32 letters and digits: nothing a URL or a config line would need to escape.
random() { tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32; }

for f in postgres_password rabbitmq.conf minisiem.conf; do
	if [ -e "$dir/$f" ]; then
		echo "make-secrets: $dir/$f exists: kept (the others are kept too)"
		exit 0
	fi
done
pg=$(random) mq=$(random) key=$(random) jwt=$(random)$(random)

printf '%s\n' "$pg" >"$dir/postgres_password"
cat >"$dir/rabbitmq.conf" <<CONF
listeners.tcp.default = 5672
loopback_users = none
default_user = siem
default_pass = $mq
default_vhost = siem
default_permissions.configure = .*
default_permissions.read = .*
default_permissions.write = .*
CONF
cat >"$dir/minisiem.conf" <<CONF
# minisiem hub settings shared by every node of deploy/docker-compose.yml (names as the flags
# of 'minisiem serve --help'); the roles and the listening address are on each command line.
postgres = postgresql://siem:$pg@postgres:5432/siem
amqp = amqp://siem:$mq@rabbitmq:5672/siem
retention-days = 30
SIEM_API_KEYS = agents:$key
SIEM_JWT_SECRET = $jwt
CONF
# The containers' users (minisiem, postgres, rabbitmq) are not this one: the files are
# readable through the mounts, the directory keeps everyone else out.
chmod 644 "$dir/postgres_password" "$dir/rabbitmq.conf" "$dir/minisiem.conf"
echo "make-secrets: wrote $dir/postgres_password, rabbitmq.conf and minisiem.conf"
echo "make-secrets: the agents' API key is in $dir/minisiem.conf (SIEM_API_KEYS = agents:...)"
