-- The `wrk` module of wrk-rs (spec §4.2-4.4), run once in every Lua state
-- before the user script. Rust adds the URL fields, -H headers and the native
-- functions (lookup, connect, time_us) afterwards. Behaviour mirrors wrk 4.1.0's
-- module; the code is our own.
local wrk = {
   scheme  = "http",
   host    = "localhost",
   port    = nil,
   method  = "GET",
   path    = "/",
   headers = {},
   body    = nil,
   thread  = nil,
}

-- Lookup plus connect probe; keeps the addresses that accepted a connection.
function wrk.resolve(host, service)
   local found = wrk.lookup(host, service)
   local alive = {}
   for _, addr in ipairs(found) do
      if wrk.connect(addr) then
         alive[#alive + 1] = addr
      end
   end
   wrk.addrs = alive
end

-- Main state, once per thread: default address, then the user's setup().
function wrk.setup(thread)
   thread.addr = wrk.addrs[1]
   if type(setup) == "function" then
      setup(thread)
   end
end

-- Thread state: default Host header, user init(args), then freeze the static request.
function wrk.init(args)
   if wrk.headers["Host"] == nil then
      local host = wrk.host
      if host:find(":", 1, true) then
         host = "[" .. host .. "]"
      end
      if wrk.port then
         host = host .. ":" .. wrk.port
      end
      wrk.headers["Host"] = host
   end

   if type(init) == "function" then
      init(args)
   end

   local frozen = wrk.format()
   wrk.request = function()
      return frozen
   end
end

-- Builds one HTTP/1.1 request; nil arguments fall back to the wrk fields.
-- Like wrk it writes Host and Content-Length into the headers table it uses.
function wrk.format(method, path, headers, body)
   method  = method  or wrk.method
   path    = path    or wrk.path
   headers = headers or wrk.headers
   body    = body    or wrk.body

   if headers["Host"] == nil then
      headers["Host"] = wrk.headers["Host"]
   end
   if body then
      headers["Content-Length"] = string.len(body)
   else
      headers["Content-Length"] = nil
   end

   local lines = { string.format("%s %s HTTP/1.1", method, path) }
   for name, value in pairs(headers) do
      lines[#lines + 1] = string.format("%s: %s", name, value)
   end
   lines[#lines + 1] = ""
   lines[#lines + 1] = body or ""
   return table.concat(lines, "\r\n")
end

return wrk
