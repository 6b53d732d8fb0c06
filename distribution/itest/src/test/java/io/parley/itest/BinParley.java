package io.parley.itest;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs the control script {@code bin/parley} of an installation the way an operator does, and captures its output. */
final class BinParley {

    /** Exit status and the combined stdout/stderr of one {@code bin/parley} run. */
    record Result(int exit, String output) {
    }

    private BinParley() {
    }

    /**
     * Runs {@code bin/parley args} in {@code home} with {@code env} added to the environment.
     *
     * @throws IllegalStateException if it did not end within {@code timeoutSeconds} (it is killed then)
     */
    static Result run(Path home, Map<String, String> env, long timeoutSeconds, String... args) throws Exception {
        Process p = builder(home, env, args).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException("bin/parley " + String.join(" ", args) + " did not end within "
                    + timeoutSeconds + " s; output:\n" + out);
        }
        return new Result(p.exitValue(), out);
    }

    /**
     * Starts {@code bin/parley args} in {@code home} and returns at once; its output goes to {@code output}. The
     * caller ends it ({@link Process#destroy}) when it is no longer needed.
     */
    static Process start(Path home, Map<String, String> env, Path output, String... args) throws Exception {
        return builder(home, env, args).redirectOutput(output.toFile()).start();
    }

    private static ProcessBuilder builder(Path home, Map<String, String> env, String... args) {
        List<String> command = new ArrayList<>(List.of(home.resolve("bin/parley").toString()));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command).directory(home.toFile()).redirectErrorStream(true);
        pb.environment().putAll(env);
        return pb;
    }
}
