package io.parley.launcher;

import java.io.PrintStream;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;

/**
 * The launcher's own messages, printed to stdout in the same shape as the log pattern of
 * {@code conf/logging.properties}. pax-logging is a bundle and not visible to the launcher, so these lines go
 * to the console (and to {@code logs/console.log} under {@code bin/parley start}); {@code bin/parley start}
 * waits for the {@value #STARTED_MARKER} line.
 */
final class BootLog {
    static final String STARTED_MARKER = "started in";
    private static final DateTimeFormatter TS = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss,SSS");
    private static volatile PrintStream out = System.out;

    private BootLog() {
    }

    static void redirect(PrintStream stream) {
        out = stream;
    }

    static void info(String message) {
        print("INFO ", message);
    }

    static void warn(String message) {
        print("WARN ", message);
    }

    static void error(String message, Throwable t) {
        print("ERROR", message + (t == null ? "" : ": " + t));
        if (t != null && Boolean.getBoolean("parley.launcher.debug")) {
            t.printStackTrace(out);
        }
    }

    private static void print(String level, String message) {
        PrintStream o = out;
        o.println(LocalDateTime.now().format(TS) + " " + level + " [" + Thread.currentThread().getName()
                + "] parley.launcher - " + message);
        o.flush();
    }
}
