package io.parley.client.cli;

import io.parley.client.Groups;
import io.parley.client.ParleyClient;
import io.parley.client.Recalls;
import io.parley.core.api.Ids;
import io.parley.core.proto.ConversationSummary;
import io.parley.core.proto.Group;
import io.parley.core.proto.GroupEvent;
import io.parley.core.proto.Message;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;

/**
 * What the chat client remembers about its conversations: who wrote last (for {@code /reply} and for plain lines
 * typed before any {@code @user} or {@code #group}) and the names of groups (so {@code #team} works as well as
 * {@code #n1.x7k2}).
 *
 * <p>Thread-safe: {@link #received} runs on the client's listener thread, the rest on the input thread.
 */
final class ChatTargets {
    /** Shortcodes {@code /emoji} accepts besides the emoji itself. */
    static final Map<String, String> SHORTCODES = Map.ofEntries(
            Map.entry(":+1:", "👍"), Map.entry(":thumbsup:", "👍"), Map.entry(":-1:", "👎"),
            Map.entry(":smile:", "😄"), Map.entry(":joy:", "😂"), Map.entry(":wink:", "😉"),
            Map.entry(":heart:", "❤️"), Map.entry(":tada:", "🎉"), Map.entry(":fire:", "🔥"),
            Map.entry(":wave:", "👋"), Map.entry(":ok_hand:", "👌"), Map.entry(":thinking:", "🤔"),
            Map.entry(":cry:", "😢"), Map.entry(":clap:", "👏"), Map.entry(":pray:", "🙏"),
            Map.entry(":eyes:", "👀"), Map.entry(":rocket:", "🚀"), Map.entry(":coffee:", "☕"));

    private final AtomicReference<Message> lastIncoming = new AtomicReference<>();
    /** Lower-case group name → group ids with that name (from creations seen and conversation lists). */
    private final Map<String, List<String>> groupsByName = new ConcurrentHashMap<>();

    /** Records a received message: the last one of a conversation others write in, and group names. */
    void received(Message m) {
        if (Groups.isEvent(m)) {
            try {
                GroupEvent e = Groups.eventOf(m);
                if (e.getKind() == GroupEvent.Kind.KIND_CREATED && !e.getName().isEmpty()) {
                    remember(e.getName(), Groups.groupIdOf(m.getConversation()));
                }
            } catch (IllegalArgumentException malformed) {
                // shown as such by the printer
            }
            return;
        }
        if (!Recalls.isEvent(m) && m.getSeq() > 0) {
            lastIncoming.set(m);
        }
    }

    /** Records a group this client created or fetched. */
    void group(Group g) {
        remember(g.getName(), g.getId());
    }

    private void remember(String name, String id) {
        if (name == null || id == null) {
            return;
        }
        groupsByName.compute(name.toLowerCase(Locale.ROOT), (k, ids) -> {
            List<String> out = ids == null ? new ArrayList<>() : new ArrayList<>(ids);
            if (!out.contains(id)) {
                out.add(id);
            }
            return List.copyOf(out);
        });
    }

    /**
     * @param me this client's user id
     * @return {@code @user} or {@code #groupId} of the conversation of the last message received from someone
     *     else (for a message this user sent from another device: its conversation), or null before any
     */
    String lastWriter(String me) {
        Message m = lastIncoming.get();
        if (m == null) {
            return null;
        }
        String group = Groups.groupIdOf(m.getConversation());
        if (group != null) {
            return "#" + group;
        }
        if (!m.getSender().equals(me)) {
            return "@" + m.getSender();
        }
        for (String member : Ids.directMembers(m.getConversation())) {
            if (!member.equals(me)) {
                return "@" + member;
            }
        }
        return null;
    }

    /**
     * Resolves the word after {@code #} to a group id: a group id this client knows, else a group name (any case)
     * among the user's conversations.
     *
     * @return the group id; the word itself when nothing matches (the server then answers for it)
     * @throws IllegalArgumentException naming the ids when several of the user's groups have this name
     */
    String groupId(ParleyClient client, String word) throws InterruptedException, ExecutionException,
            TimeoutException {
        if (knownId(word)) {
            return word;
        }
        List<String> ids = groupsByName.get(word.toLowerCase(Locale.ROOT));
        if (ids == null || ids.size() != 1) {
            for (ConversationSummary c : client.conversations().get(30, TimeUnit.SECONDS)) {
                String id = Groups.groupIdOf(c.getConversation());
                if (id != null && id.equals(word)) {
                    return word;
                }
                if (id != null) {
                    remember(c.getTitle(), id);
                }
            }
            ids = groupsByName.get(word.toLowerCase(Locale.ROOT));
        }
        if (ids == null || ids.isEmpty()) {
            return word;
        }
        if (ids.size() > 1) {
            throw new IllegalArgumentException("several of your groups are named \"" + word + "\": #"
                    + String.join(", #", ids) + "; use the id");
        }
        return ids.get(0);
    }

    private boolean knownId(String word) {
        return groupsByName.values().stream().anyMatch(ids -> ids.contains(word));
    }

    /**
     * @return the emoji for {@code /emoji} input: a shortcode from {@link #SHORTCODES}, or the input itself when it
     *     is not plain text (the server checks it is an emoji); null for a shortcode that is not known
     */
    static String emoji(String input) {
        String s = input.strip();
        if (s.startsWith(":") && s.endsWith(":") && s.length() > 2) {
            return SHORTCODES.get(s.toLowerCase(Locale.ROOT));
        }
        return s.isEmpty() ? null : s;
    }
}
