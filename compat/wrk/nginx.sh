# Sourced by the scripts here: start_nginx DIR starts a private nginx on a
# free 127.0.0.1 port with DIR as prefix, sets NGINX_PID and NGINX_URL
# (/small.txt, 5 bytes; / is a 615-byte page like Debian's default site).
# The caller kills $NGINX_PID (by PID) when done.
start_nginx() {
    _d=$1
    _port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    mkdir -p "$_d/logs" "$_d/html" "$_d/tmp"
    printf 'small' > "$_d/html/small.txt"
    head -c 615 /dev/zero | tr '\0' 'x' > "$_d/html/index.html"
    cat > "$_d/nginx.conf" <<CONF
daemon off; master_process off; worker_processes 1; worker_rlimit_nofile 65535;
pid $_d/logs/nginx.pid; error_log $_d/logs/error.log warn;
events { worker_connections 30000; multi_accept on; }
http { access_log off; keepalive_requests 1000000; client_body_temp_path $_d/tmp;
  proxy_temp_path $_d/tmp; fastcgi_temp_path $_d/tmp; uwsgi_temp_path $_d/tmp; scgi_temp_path $_d/tmp;
  server { listen 127.0.0.1:$_port backlog=4096; root $_d/html; index index.html; } }
CONF
    nginx -p "$_d" -c "$_d/nginx.conf" >"$_d/nginx.out" 2>&1 &
    NGINX_PID=$!
    _i=0
    until python3 -c "import socket; socket.create_connection(('127.0.0.1',$_port),1)" 2>/dev/null; do
        _i=$((_i + 1))
        if [ $_i -ge 100 ]; then cat "$_d/nginx.out" >&2; return 1; fi
        sleep 0.1
    done
    NGINX_URL="http://127.0.0.1:$_port/small.txt"
}
