package io.parley.client.cli;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/**
 * One run of the chat CLI ({@link ChatMain#run}) as a user, on a device called {@code cli}, against a test server's
 * port, typing {@code input}: its exit code, its stdout lines and its stderr.
 */
record CliRun(int code, List<String> out, String err) {

    static CliRun of(int port, String user, String input) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = ChatMain.run(new String[] {"--port", String.valueOf(port), "--device", "cli"},
                new ByteArrayInputStream(input.getBytes(StandardCharsets.UTF_8)),
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8),
                Map.of("PARLEY_TOKEN", user));
        return new CliRun(code, out.toString(StandardCharsets.UTF_8).lines().toList(),
                err.toString(StandardCharsets.UTF_8));
    }
}
