#!/bin/sh
# Serves "served by <hostname> <VERSION>" and /health until stopped; SIGTERM stops httpd at once.
mkdir -p /www
echo "served by $(hostname) ${VERSION:-v1}" > /www/index.html
echo ok > /www/health
exec httpd -f -p 80 -h /www
