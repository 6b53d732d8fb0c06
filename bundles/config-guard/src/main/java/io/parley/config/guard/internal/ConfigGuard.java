package io.parley.config.guard.internal;

import java.util.ArrayList;
import java.util.Dictionary;
import java.util.Enumeration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * The checking part of the guard, without OSGi: given the rules of a configuration's keys, it checks every value
 * of a configuration about to be handed to a component. A bad value with a previously accepted one is replaced by
 * that one (the old value stays in force) and reported; a bad value without one (the first configuration after
 * start, a new file) is left for the component to fail on and kept as an open problem, which makes the launcher
 * refuse to start.
 *
 * <p>Checks only the component can make (a range it does not declare, a file that must exist) are covered after the
 * fact: once the components of a PID ran with a configuration it is {@link #confirm confirmed}; when they fail with a
 * newer one the caller {@link #pin pins} the PID, and from then on every delivery of that same configuration hands
 * out the confirmed one instead, until the file changes again.
 *
 * <p>Thread-safe: ConfigAdmin and Declarative Services call {@link #check} from their own threads, possibly
 * several times for one change (once per component of a PID); each distinct problem is reported once.
 */
final class ConfigGuard {
    /** Property holding the file a configuration came from (a {@code file:} URL), set by FileInstall. */
    static final String FILENAME = "felix.fileinstall.filename";

    private final String home;
    private final Consumer<String> warn;
    private final Runnable problemsChanged;
    /** PID → the last values handed out for it (bad values replaced). */
    private final Map<String, Map<String, Object>> lastGood = new HashMap<>();
    /** PID → values its components were seen running with. */
    private final Map<String, Map<String, Object>> confirmed = new HashMap<>();
    /**
     * PID → the values handed out before the last change while none were confirmed yet (a change that came before the
     * check after the previous one — a few seconds after start, or on a busy machine): what to fall back on then.
     */
    private final Map<String, Map<String, Object>> unconfirmed = new HashMap<>();
    /** PID → the configuration as received (before any replacement) at its last check. */
    private final Map<String, Map<String, Object>> lastRaw = new HashMap<>();
    /** PID → the received configuration its components failed with, while the confirmed one is handed out instead. */
    private final Map<String, Map<String, Object>> pinned = new HashMap<>();
    /** PID → problems reported for its current configuration, so a repeated call logs nothing new. */
    private final Map<String, List<String>> reported = new HashMap<>();
    /** PID → problems without a previous value to fall back on. */
    private final Map<String, List<String>> open = new TreeMap<>();

    /**
     * @param home            the installation directory, to show files relative to it ({@code conf/x.cfg}); may be null
     * @param warn            receives one line per refused value
     * @param problemsChanged called (outside the guard's lock) when {@link #openProblems()} changed
     */
    ConfigGuard(String home, Consumer<String> warn, Runnable problemsChanged) {
        this.home = home;
        this.warn = warn;
        this.problemsChanged = problemsChanged;
    }

    /**
     * Checks {@code props} in place.
     *
     * @param pid   the configuration's PID (for a factory configuration its factory PID: the rules' key)
     * @param rules the rules of the PID's keys; keys without a rule are not checked
     * @param props the configuration about to be delivered; bad values are replaced here when an old one exists
     */
    void check(String pid, Map<String, Rule> rules, Dictionary<String, Object> props) {
        String file = displayFile(props.get(FILENAME));
        List<String> problems = new ArrayList<>();
        List<String> unresolved = new ArrayList<>();
        Map<String, Object> delivered = new LinkedHashMap<>();
        boolean openChanged;
        synchronized (this) {
            Map<String, Object> raw = copy(props);
            lastRaw.put(pid, raw);
            Map<String, Object> pin = pinned.get(pid);
            if (pin != null && pin.equals(raw)) {
                // the configuration the components failed with, asked for again: hand out the confirmed one
                Map<String, Object> good = fallback(pid);
                for (String key : raw.keySet()) {
                    if (!good.containsKey(key)) {
                        props.remove(key);
                    }
                }
                good.forEach(props::put);
                return;
            }
            pinned.remove(pid);
            Map<String, Object> previous = lastGood.getOrDefault(pid, Map.of());
            for (Enumeration<String> keys = props.keys(); keys.hasMoreElements(); ) {
                String key = keys.nextElement();
                Object value = props.get(key);
                Rule rule = rules.get(key);
                String problem = rule == null ? null : rule.problem(value);
                if (problem == null) {
                    delivered.put(key, value);
                    continue;
                }
                String line = (file == null ? "configuration " + pid : file) + ": " + key + " = " + value + " "
                        + problem + " (allowed: " + rule.allowed() + ")";
                Object old = previous.get(key);
                if (old != null && rule.problem(old) == null) {
                    props.put(key, old);
                    delivered.put(key, old);
                    problems.add(line + "; keeping " + key + " = " + old);
                } else {
                    problems.add(line);
                    unresolved.add(line);
                }
            }
            Map<String, Object> handedOut = lastGood.put(pid, delivered);
            if (handedOut != null && !handedOut.equals(delivered) && !confirmed.containsKey(pid)) {
                unconfirmed.put(pid, handedOut);
            }
            List<String> before = reported.put(pid, problems);
            if (!Objects.equals(before, problems)) {
                List<String> already = before == null ? List.of() : before;
                for (String p : problems) {
                    if (!already.contains(p)) {
                        warn.accept(p);
                    }
                }
            }
            List<String> was = unresolved.isEmpty() ? open.remove(pid) : open.put(pid, unresolved);
            openChanged = !Objects.equals(was == null ? List.of() : was, unresolved);
        }
        if (openChanged) {
            problemsChanged.run();
        }
    }

    /** The components of {@code pid} run with the values last handed out: they become the ones to fall back on. */
    synchronized void confirm(String pid) {
        Map<String, Object> delivered = lastGood.get(pid);
        if (delivered != null && !pinned.containsKey(pid)) {
            confirmed.put(pid, delivered);
            unconfirmed.remove(pid);
        }
    }

    /** Guarded by this: the values to hand out instead of a failed configuration, or null if there are none. */
    private Map<String, Object> fallback(String pid) {
        Map<String, Object> good = confirmed.get(pid);
        return good != null ? good : unconfirmed.get(pid);
    }

    /**
     * The components of {@code pid} failed with the configuration last received: hand out the confirmed one for it
     * from now on, until a different configuration arrives.
     *
     * @param failure the component's own words, e.g. "idle.timeout.seconds must be >= 0: -5"
     * @return the line to log, or null when there is nothing to fall back on or this configuration is pinned already
     *     (then the caller must not deliver again: the confirmed configuration failed too)
     */
    synchronized String pin(String pid, String failure) {
        Map<String, Object> raw = lastRaw.get(pid);
        Map<String, Object> good = fallback(pid);
        if (raw == null || good == null || raw.equals(pinned.get(pid)) || good.equals(lastGood.get(pid))) {
            return null;
        }
        pinned.put(pid, raw);
        String file = displayFile(raw.get(FILENAME));
        return (file == null ? "configuration " + pid : file) + ": refused: " + failure
                + "; keeping the previous configuration";
    }

    private static Map<String, Object> copy(Dictionary<String, Object> props) {
        Map<String, Object> m = new HashMap<>();
        for (Enumeration<String> keys = props.keys(); keys.hasMoreElements(); ) {
            String key = keys.nextElement();
            m.put(key, props.get(key));
        }
        return m;
    }

    /** Forgets a deleted configuration: its next one starts without previous values. */
    void deleted(String pid) {
        boolean changed;
        synchronized (this) {
            lastGood.remove(pid);
            confirmed.remove(pid);
            unconfirmed.remove(pid);
            lastRaw.remove(pid);
            pinned.remove(pid);
            reported.remove(pid);
            changed = open.remove(pid) != null;
        }
        if (changed) {
            problemsChanged.run();
        }
    }

    /** Problems that have no previous value to fall back on, one line each ("PID: file: key = v is ..."). */
    synchronized List<String> openProblems() {
        List<String> lines = new ArrayList<>();
        open.forEach((pid, problems) -> problems.forEach(p -> lines.add(pid + ": " + p)));
        return lines;
    }

    /** {@code conf/x.cfg} for a file under the installation, else the file's path; null when there is none. */
    String displayFile(Object fileName) {
        if (fileName == null) {
            return null;
        }
        String f = fileName.toString();
        if (f.startsWith("file:")) {
            try {
                f = java.nio.file.Path.of(java.net.URI.create(f)).toString();
            } catch (IllegalArgumentException e) {
                f = f.substring("file:".length());
            }
        }
        if (home != null) {
            String prefix = home.endsWith("/") ? home : home + "/";
            if (f.startsWith(prefix)) {
                return f.substring(prefix.length());
            }
        }
        return f;
    }
}
