//! The Lua script layer on LuaJIT (to be written).
