-- wrk script for bench/proxy_compare.py: POST the JSON body in $BENCH_BODY_FILE.
local file = assert(io.open(os.getenv("BENCH_BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = file:read("*a")
wrk.headers["Content-Type"] = "application/json"
file:close()
