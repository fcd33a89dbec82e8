# Sourced by system tests: start_nginx DIR DOCROOT starts a private nginx on
# 127.0.0.1 with plain HTTP/1.1 (keep-alive) on $HTTP_PORT and TLS 1.3 +
# HTTP/2 on $HTTPS_PORT, certificate for pokeapi.test signed by a CA made
# here ($DIR/ca.pem). stop_nginx stops it. Needs nginx and openssl.
# Also: $HTTPS1_PORT, the same over TLS with HTTP/1.1 only (no h2 in ALPN),
# /slow/ included;
# $GZIP_PORT, plain HTTP with gzip on for JSON. Every request on every port
# is logged to $DIR/access.log, one line each:
#   PORT CONNECTION REQUESTS_ON_IT STATUS BYTES_SENT PROTOCOL URI "UA"
#   "ACCEPT_ENCODING" "IF_NONE_MATCH" "X_ASYNCDL_TEST"
# (CONNECTION is nginx's connection serial: one value = one connection.)

make_ca() {
  local d=$1
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=asyncdl test CA" \
    -keyout "$d/ca.key" -out "$d/ca.pem" >/dev/null 2>&1
  openssl req -newkey rsa:2048 -nodes -subj "/CN=pokeapi.test" \
    -keyout "$d/server.key" -out "$d/server.csr" >/dev/null 2>&1
  printf 'subjectAltName=DNS:pokeapi.test,IP:127.0.0.1\n' >"$d/san.ext"
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
    -CAcreateserial -days 2 -extfile "$d/san.ext" -out "$d/server.pem" \
    >/dev/null 2>&1
}

free_port() {
  python3 - <<'PY'
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

start_nginx() {
  local d=$1 root=$2
  NGINX=$(command -v nginx || echo /usr/sbin/nginx)
  [ -x "$NGINX" ] || return 77
  make_ca "$d" || return 1
  local try
  for try in 1 2 3 4 5; do
    HTTP_PORT=$(free_port)
    HTTPS_PORT=$(free_port)
    HTTPS1_PORT=$(free_port)
    GZIP_PORT=$(free_port)
    mkdir -p "$d/tmp"
    cat >"$d/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
error_log $d/error.log warn;
pid $d/nginx.pid;
worker_rlimit_nofile 16384;
events { worker_connections 8192; }
http {
  log_format tls '\$connection \$ssl_session_reused';
  log_format each '\$server_port \$connection \$connection_requests \$status '
                  '\$body_bytes_sent \$server_protocol \$request_uri '
                  '"\$http_user_agent" "\$http_accept_encoding" '
                  '"\$http_if_none_match" "\$http_x_asyncdl_test"';
  access_log $d/access.log each;
  default_type application/json;
  keepalive_requests 100000;
  keepalive_timeout 60s;
  client_body_temp_path $d/tmp/body;
  proxy_temp_path $d/tmp/proxy;
  fastcgi_temp_path $d/tmp/fastcgi;
  uwsgi_temp_path $d/tmp/uwsgi;
  scgi_temp_path $d/tmp/scgi;
  server {
    listen 127.0.0.1:$HTTP_PORT;
    root $root;
    location /redirect-me { return 302 /api/v2/pokemon/mew; }
  }
  server {
    listen 127.0.0.1:$HTTPS_PORT ssl http2;
    ssl_certificate $d/server.pem;
    ssl_certificate_key $d/server.key;
    ssl_protocols TLSv1.3;
    ssl_session_cache shared:tls:1m;
    access_log $d/tls.log tls; # connection number, "r" when resumed
    access_log $d/access.log each;
    root $root;
    # The same documents, sent slowly (a 20 KB one takes about 1 s).
    location /slow/ { alias $root/api/v2/pokemon/; limit_rate 10k; }
  }
  server {
    listen 127.0.0.1:$HTTPS1_PORT ssl;
    ssl_certificate $d/server.pem;
    ssl_certificate_key $d/server.key;
    ssl_protocols TLSv1.3;
    root $root;
    location /slow/ { alias $root/api/v2/pokemon/; limit_rate 10k; }
  }
  server {
    listen 127.0.0.1:$GZIP_PORT;
    root $root;
    gzip on;
    gzip_types application/json;
    gzip_min_length 0;
    gzip_comp_level 6;
    gzip_vary on;
  }
}
CONF
    "$NGINX" -c "$d/nginx.conf" -p "$d" >"$d/nginx.out" 2>&1 &
    NGINX_PID=$!
    local i
    for i in $(seq 1 100); do
      if ! kill -0 "$NGINX_PID" 2>/dev/null; then break; fi
      if curl -s -o /dev/null "http://127.0.0.1:$HTTP_PORT/"; then return 0; fi
      sleep 0.05
    done
    kill "$NGINX_PID" 2>/dev/null; wait "$NGINX_PID" 2>/dev/null
  done
  cat "$d/error.log" "$d/nginx.out" >&2 2>/dev/null
  return 1
}

stop_nginx() {
  if [ -n "${NGINX_PID:-}" ]; then
    kill "$NGINX_PID" 2>/dev/null
    wait "$NGINX_PID" 2>/dev/null
    NGINX_PID=
  fi
}
