package io.parley.store.redis;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * The Lua scripts. Each runs atomically on the node owning its keys, which all share one hash tag (see {@link Keys}).
 * Writers carry the {@code #!lua} shebang (Redis 7): Redis then refuses them up front when it is out of memory, so a
 * script is applied whole or not at all. Every writer is idempotent, because Lettuce re-sends a command whose reply
 * it did not get when the connection drops (at-least-once): running it a second time changes nothing and answers what
 * the first run did (for {@link #APPEND}: the stored message, whose id tells the caller the run was its own).
 */
final class Scripts {

    /** Lua source and its SHA-1, for EVALSHA with EVAL on NOSCRIPT. */
    record Script(String name, String body, String sha) {
        static Script of(String name, String body) {
            try {
                byte[] digest = MessageDigest.getInstance("SHA-1").digest(body.getBytes(StandardCharsets.UTF_8));
                return new Script(name, body, HexFormat.of().formatHex(digest));
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    private Scripts() {
    }

    /**
     * Appends a batch of messages (and group events) to one conversation: for each, in order, the idempotency check,
     * the seq (INCR of the head), the message, its index entry, the conversation-list changes still to apply to the
     * users' lists (pending until the store has applied them), and for a group event the group's new record. An item
     * whose (sender, client_msg_id) is already in the conversation changes nothing and answers the stored message
     * and its pending list changes.
     * <p>KEYS: 1 head, 2 messages, 3 idempotency index, 4 pending list changes, 5 group record.
     * ARGV: 4 per item: idempotency field, message (seq 0), list changes ('' none), group record ('' none, else 'R'
     * followed by the record).
     * <p>Answers per item {1, seq} (stored now) or {0, seq, stored message, pending list changes or nil}.
     */
    static final Script APPEND = Script.of("append", """
            #!lua
            local out = {}
            for i = 1, #ARGV, 4 do
              local field, message, changes, record = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
              local seq = redis.call('HGET', KEYS[3], field)
              if seq then
                out[#out + 1] = {0, tonumber(seq), redis.call('HGET', KEYS[2], seq), redis.call('HGET', KEYS[4], seq)}
              else
                local s = redis.call('INCR', KEYS[1])
                redis.call('HSET', KEYS[2], s, message)
                redis.call('HSET', KEYS[3], field, s)
                if changes ~= '' then redis.call('HSET', KEYS[4], s, changes) end
                if record ~= '' then redis.call('SET', KEYS[5], string.sub(record, 2)) end
                out[#out + 1] = {1, s}
              end
            end
            return out
            """);

    /**
     * Reserves a sender's client_msg_id for a conversation unless a conversation already owns it.
     * <p>KEYS: 1 the reservation. ARGV: 1 conversation, 2 time to live in seconds ('0': none).
     * <p>Answers {the owning conversation}.
     */
    static final Script RESERVE = Script.of("reserve", """
            #!lua
            local owner = redis.call('GET', KEYS[1])
            if owner then return {owner} end
            if ARGV[2] ~= '0' then
              redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
            else
              redis.call('SET', KEYS[1], ARGV[1])
            end
            return {ARGV[1]}
            """);

    /**
     * Lists or unlists a conversation in a user's list, unless a change with the same or a higher seq was applied:
     * changes may be applied late or twice (a retry re-applies what a crash left pending) and in any order.
     * <p>KEYS: 1 the user's list. ARGV: 1 conversation, 2 seq of the change, 3 '1' list / '0' unlist.
     * <p>Answers {1} if applied, {0} if older than what the list holds.
     */
    static final Script LIST = Script.of("list", """
            #!lua
            local current = redis.call('HGET', KEYS[1], ARGV[1])
            if current and math.abs(tonumber(current)) >= tonumber(ARGV[2]) then return {0} end
            if ARGV[3] == '1' then
              redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
            else
              redis.call('HSET', KEYS[1], ARGV[1], '-' .. ARGV[2])
            end
            return {1}
            """);

    /**
     * Raises a hash field (a watermark, a read cursor) to a value if it is higher.
     * <p>KEYS: 1 the hash. ARGV: 1 field, 2 value. Answers {1} if raised, else {0}.
     */
    static final Script RAISE = Script.of("raise", """
            #!lua
            local current = redis.call('HGET', KEYS[1], ARGV[1])
            if current and tonumber(current) >= tonumber(ARGV[2]) then return {0} end
            redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
            return {1}
            """);

    /**
     * Replaces a stored message in place (a recall), if there is one at that seq.
     * <p>KEYS: 1 messages. ARGV: 1 seq, 2 the replacement (seq 0). Answers {1} if replaced, {0} if no message.
     */
    static final Script REPLACE = Script.of("replace", """
            #!lua
            if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return {0} end
            redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
            return {1}
            """);

    /**
     * Reads up to ARGV[3] messages from seq ARGV[1] to min(ARGV[2], head).
     * <p>KEYS: 1 head, 2 messages. Answers {first seq, message, message, ...} ({} when the range is empty).
     */
    static final Script RANGE = Script.of("range", """
            #!lua flags=no-writes
            local head = tonumber(redis.call('GET', KEYS[1]) or '0')
            local from = tonumber(ARGV[1])
            local to = math.min(tonumber(ARGV[2]), head, from + tonumber(ARGV[3]) - 1)
            if to < from then return {} end
            local seqs = {}
            for s = from, to do seqs[#seqs + 1] = s end
            local out = redis.call('HMGET', KEYS[2], unpack(seqs))
            table.insert(out, 1, from)
            return out
            """);

    /**
     * Finds the message a (sender, client_msg_id) stored in a conversation.
     * <p>KEYS: 1 idempotency index, 2 messages. ARGV: 1 idempotency field. Answers {seq, message} or {}.
     */
    static final Script FIND = Script.of("find", """
            #!lua flags=no-writes
            local seq = redis.call('HGET', KEYS[1], ARGV[1])
            if not seq then return {} end
            return {tonumber(seq), redis.call('HGET', KEYS[2], seq)}
            """);

    static final Script[] ALL = {APPEND, RESERVE, LIST, RAISE, REPLACE, RANGE, FIND};
}
