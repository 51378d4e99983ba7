#!/usr/bin/env sh
# Start Jaeger (http://localhost:16686), Prometheus (http://localhost:9090) and Grafana (http://localhost:3001).
set -eu
cd "$(dirname "$0")"
docker compose up -d
echo "Jaeger     http://localhost:16686"
echo "Prometheus http://localhost:9090"
echo "Grafana    http://localhost:3001  (dashboard: agentgateway / agentgateway-py)"
