-- lua-router.lua -- "the usual alternative": ccroute's routing rules as a
-- straightforward Redis Lua script, the way many teams build it. One
-- EVALSHA per protocol request (bench/lua-server.c turns each request into
-- one call and each result into replies and events).
--
-- Data (all keys under the prefix KEYS[1]):
--   queues            hash  queue name -> "skill:level,skill:level"
--   wait:<queue>      zset  waiting contacts, score = arrival ms
--                           - priority * 1000 - value * 10 (lower first,
--                           the engine's default weights)
--   avail:<queue>     zset  available agents, score = idle since (ms):
--                           the lowest is the longest idle
--   a:<agent>         hash  conn, skills, state (available/offered/busy/
--                           away), contact
--   aq:<agent>        set   queues the agent serves (skills checked at login)
--   c:<contact>       hash  queue, conn, state (queued/offered/assigned),
--                           agent, score
--
-- ARGV[1] is the operation, ARGV[2] the time in ms, then its arguments.
-- Result: {"OK", event...} or {"ERR", CODE}; an event is
--   {"offer", contact, agent, queue, agent_conn} or
--   {"revoke", contact, agent, agent_conn}.

local P = KEYS[1]
local op = ARGV[1]
local now = tonumber(ARGV[2])

local function split(s, sep)
  local out = {}
  if not s or s == '' then return out end
  for part in string.gmatch(s, '([^' .. sep .. ']+)') do
    table.insert(out, part)
  end
  return out
end

local function levels(s)
  local t = {}
  for _, p in ipairs(split(s, ',')) do
    local name, lvl = string.match(p, '^(.*):(%d+)$')
    if name then t[name] = tonumber(lvl) end
  end
  return t
end

local function offer(contact, agent, queue, events)
  redis.call('HSET', P .. 'c:' .. contact, 'state', 'offered', 'agent', agent)
  redis.call('HSET', P .. 'a:' .. agent, 'state', 'offered',
             'contact', contact)
  for _, q in ipairs(redis.call('SMEMBERS', P .. 'aq:' .. agent)) do
    redis.call('ZREM', P .. 'avail:' .. q, agent)
  end
  table.insert(events, {'offer', contact, agent, queue,
                        redis.call('HGET', P .. 'a:' .. agent, 'conn')})
end

-- The agent is free: take the best waiting contact of its queues, or wait
-- in the available set of each of them.
local function agent_free(agent, events, pull)
  local queues = redis.call('SMEMBERS', P .. 'aq:' .. agent)
  if pull then
    local best, bestq, bests = nil, nil, nil
    for _, q in ipairs(queues) do
      local head = redis.call('ZRANGE', P .. 'wait:' .. q, 0, 0, 'WITHSCORES')
      if head[1] and (bests == nil or tonumber(head[2]) < bests) then
        best, bestq, bests = head[1], q, tonumber(head[2])
      end
    end
    if best then
      redis.call('ZREM', P .. 'wait:' .. bestq, best)
      offer(best, agent, bestq, events)
      return
    end
  end
  redis.call('HSET', P .. 'a:' .. agent, 'state', 'available', 'contact', '')
  for _, q in ipairs(queues) do
    redis.call('ZADD', P .. 'avail:' .. q, now, agent)
  end
end

-- Routes a waiting contact: the longest idle agent of its queue other than
-- `except`, else back in the waiting set.
local function route(contact, queue, score, except, events)
  local cand = redis.call('ZRANGE', P .. 'avail:' .. queue, 0, 1)
  for _, agent in ipairs(cand) do
    if agent ~= except then
      offer(contact, agent, queue, events)
      return
    end
  end
  redis.call('HSET', P .. 'c:' .. contact, 'state', 'queued', 'agent', '')
  redis.call('ZADD', P .. 'wait:' .. queue, score, contact)
end

local events = {}

if op == 'reset' then
  for _, k in ipairs(redis.call('KEYS', P .. '*')) do
    redis.call('DEL', k)
  end
elseif op == 'queue' then
  redis.call('HSET', P .. 'queues', ARGV[3], ARGV[4])
elseif op == 'login' then
  local agent, conn, skills, only = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
  if redis.call('EXISTS', P .. 'a:' .. agent) == 1 then
    return {'ERR', 'AGENT_EXISTS'}
  end
  local have = levels(skills)
  local allowed = nil
  if only ~= '' then
    allowed = {}
    for _, q in ipairs(split(only, ',')) do allowed[q] = true end
  end
  local qs = redis.call('HGETALL', P .. 'queues')
  for i = 1, #qs, 2 do
    local q, ok = qs[i], true
    if allowed and not allowed[q] then ok = false end
    for s, l in pairs(levels(qs[i + 1])) do
      if (have[s] or 0) < l then ok = false end
    end
    if ok then redis.call('SADD', P .. 'aq:' .. agent, q) end
  end
  redis.call('HSET', P .. 'a:' .. agent, 'conn', conn, 'skills', skills,
             'state', 'away', 'contact', '')
  agent_free(agent, events, true)
elseif op == 'state' then
  local agent, status = ARGV[3], ARGV[4]
  local st = redis.call('HGET', P .. 'a:' .. agent, 'state')
  if not st then return {'ERR', 'UNKNOWN_AGENT'} end
  if status == '2' then
    if st == 'available' then
      for _, q in ipairs(redis.call('SMEMBERS', P .. 'aq:' .. agent)) do
        redis.call('ZREM', P .. 'avail:' .. q, agent)
      end
      redis.call('HSET', P .. 'a:' .. agent, 'state', 'away')
    end
  elseif st == 'away' then
    agent_free(agent, events, true)
  end
elseif op == 'logout' then
  local agent = ARGV[3]
  if redis.call('EXISTS', P .. 'a:' .. agent) == 0 then
    return {'ERR', 'UNKNOWN_AGENT'}
  end
  for _, q in ipairs(redis.call('SMEMBERS', P .. 'aq:' .. agent)) do
    redis.call('ZREM', P .. 'avail:' .. q, agent)
  end
  local c = redis.call('HGET', P .. 'a:' .. agent, 'contact')
  if c and c ~= '' then
    local ck = P .. 'c:' .. c
    if redis.call('HGET', ck, 'state') == 'offered' then
      route(c, redis.call('HGET', ck, 'queue'),
            tonumber(redis.call('HGET', ck, 'score')), agent, events)
    end
  end
  redis.call('DEL', P .. 'a:' .. agent, P .. 'aq:' .. agent)
elseif op == 'arrive' then
  local contact, queue, prio, value, conn =
    ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7]
  if redis.call('HEXISTS', P .. 'queues', queue) == 0 then
    return {'ERR', 'UNKNOWN_QUEUE'}
  end
  local ck = P .. 'c:' .. contact
  if redis.call('EXISTS', ck) == 1 then return {'OK'} end
  local score = now - prio * 1000 - value * 10
  redis.call('HSET', ck, 'queue', queue, 'conn', conn, 'score', score)
  route(contact, queue, score, nil, events)
elseif op == 'accept' or op == 'reject' then
  local contact, agent = ARGV[3], ARGV[4]
  local ck = P .. 'c:' .. contact
  local st = redis.call('HGET', ck, 'state')
  if not st then return {'ERR', 'UNKNOWN_CONTACT'} end
  if st ~= 'offered' or redis.call('HGET', ck, 'agent') ~= agent then
    return {'ERR', 'INVALID_STATE'}
  end
  if op == 'accept' then
    redis.call('HSET', ck, 'state', 'assigned')
    redis.call('HSET', P .. 'a:' .. agent, 'state', 'busy')
  else
    agent_free(agent, events, false)
    route(contact, redis.call('HGET', ck, 'queue'),
          tonumber(redis.call('HGET', ck, 'score')), agent, events)
  end
elseif op == 'complete' or op == 'abandon' then
  local contact = ARGV[3]
  local ck = P .. 'c:' .. contact
  local st = redis.call('HGET', ck, 'state')
  if not st then return {'ERR', 'UNKNOWN_CONTACT'} end
  local agent = redis.call('HGET', ck, 'agent')
  if op == 'complete' then
    if st ~= 'assigned' then return {'ERR', 'INVALID_STATE'} end
    redis.call('DEL', ck)
    agent_free(agent, events, true)
  else
    if st == 'assigned' then return {'ERR', 'INVALID_STATE'} end
    redis.call('ZREM', P .. 'wait:' .. redis.call('HGET', ck, 'queue'),
               contact)
    redis.call('DEL', ck)
    if st == 'offered' then
      table.insert(events, {'revoke', contact, agent,
                            redis.call('HGET', P .. 'a:' .. agent, 'conn')})
      agent_free(agent, events, true)
    end
  end
else
  return {'ERR', 'UNKNOWN_MESSAGE'}
end

local out = {'OK'}
for _, e in ipairs(events) do table.insert(out, e) end
return out
