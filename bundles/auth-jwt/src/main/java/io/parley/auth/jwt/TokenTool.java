package io.parley.auth.jwt;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.Locale;

/**
 * Command line token minting, behind {@code bin/parley token}:
 * <pre>
 * TokenTool &lt;user&gt; [--device D] [--ttl T] [--config FILE]
 * </pre>
 * Prints only the token on stdout (so {@code TOKEN=$(bin/parley token alice)} works); errors go to stderr.
 * {@code T} is a number with a unit {@code s}, {@code m}, {@code h} or {@code d} (default {@code 24h}).
 * {@code FILE} defaults to {@code $PARLEY_HOME/conf/parley.auth.jwt.cfg}, where {@code PARLEY_HOME} comes from the
 * system property {@code parley.home} or the environment variable of that name.
 */
public final class TokenTool {
    static final String USAGE = "usage: parley token <user> [--device D] [--ttl T] [--config FILE]\n"
            + "  T: a number followed by s, m, h or d (e.g. 30m, 12h, 7d); default 24h\n"
            + "  FILE: default $PARLEY_HOME/conf/parley.auth.jwt.cfg";

    private TokenTool() {
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** @return the process exit code: 0 printed a token, 1 configuration error, 2 usage error */
    static int run(String[] args, PrintStream out, PrintStream err) {
        String user = null;
        String device = null;
        Duration ttl = Duration.ofHours(24);
        Path config = null;
        try {
            for (int i = 0; i < args.length; i++) {
                String a = args[i];
                switch (a) {
                    case "--device" -> device = value(args, ++i, a);
                    case "--ttl" -> ttl = parseDuration(value(args, ++i, a));
                    case "--config" -> config = Paths.get(value(args, ++i, a));
                    case "-h", "--help" -> {
                        out.println(USAGE);
                        return 0;
                    }
                    default -> {
                        if (a.startsWith("--") || user != null) {
                            throw new IllegalArgumentException("unexpected argument: " + a);
                        }
                        user = a;
                    }
                }
            }
            if (user == null) {
                throw new IllegalArgumentException("missing <user>");
            }
        } catch (IllegalArgumentException e) {
            err.println("parley token: " + e.getMessage());
            err.println(USAGE);
            return 2;
        }
        if (config == null) {
            config = defaultConfig();
        }
        if (!Files.isRegularFile(config)) {
            err.println("parley token: config file not found: " + config);
            return 1;
        }
        try {
            JwtTokens tokens = JwtTokens.fromConfig(config);
            out.println(tokens.mint(user, device, ttl));
            return 0;
        } catch (RuntimeException e) {
            // IllegalArgumentException (bad config/ttl) or ParleyException (bad user/device id)
            err.println("parley token: " + e.getMessage());
            return 1;
        }
    }

    static Path defaultConfig() {
        String home = System.getProperty("parley.home");
        if (home == null || home.isBlank()) {
            home = System.getenv("PARLEY_HOME");
        }
        if (home == null || home.isBlank()) {
            home = ".";
        }
        return Paths.get(home, "conf", "parley.auth.jwt.cfg");
    }

    /** Parses {@code 45s}, {@code 30m}, {@code 12h}, {@code 7d} (also ISO-8601 like {@code PT30M}). */
    static Duration parseDuration(String s) {
        String t = s.trim().toLowerCase(Locale.ROOT);
        if (t.startsWith("p")) {
            try {
                return positive(Duration.parse(s.trim().toUpperCase(Locale.ROOT)), s);
            } catch (java.time.format.DateTimeParseException e) {
                throw new IllegalArgumentException("bad duration: " + s);
            }
        }
        if (t.length() < 2) {
            throw new IllegalArgumentException("bad duration: " + s + " (use e.g. 30m, 12h, 7d)");
        }
        long n;
        try {
            n = Long.parseLong(t.substring(0, t.length() - 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("bad duration: " + s + " (use e.g. 30m, 12h, 7d)");
        }
        Duration d = switch (t.charAt(t.length() - 1)) {
            case 's' -> Duration.ofSeconds(n);
            case 'm' -> Duration.ofMinutes(n);
            case 'h' -> Duration.ofHours(n);
            case 'd' -> Duration.ofDays(n);
            default -> throw new IllegalArgumentException("bad duration unit in " + s + " (s, m, h or d)");
        };
        return positive(d, s);
    }

    private static Duration positive(Duration d, String s) {
        if (d.isZero() || d.isNegative()) {
            throw new IllegalArgumentException("duration must be positive: " + s);
        }
        return d;
    }

    private static String value(String[] args, int i, String option) {
        if (i >= args.length) {
            throw new IllegalArgumentException(option + " needs a value");
        }
        return args[i];
    }
}
