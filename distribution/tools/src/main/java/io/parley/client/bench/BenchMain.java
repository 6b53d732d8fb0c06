package io.parley.client.bench;

import java.io.PrintStream;
import java.util.List;

/**
 * The load tool.
 *
 * <pre>
 * java -cp ... io.parley.client.bench.BenchMain --port 7700 --secret-file conf/parley.auth.jwt.cfg \
 *      [--scenario one-to-one|idle|group-fanout|catch-up] [--clients 1000] [--senders 10] [--rate 0] [--window 32] \
 *      [--duration 30s] [--warmup 30s] [--transport tcp|ws] [--path /parley]
 * </pre>
 *
 * Prints a table and then one JSON line with the results to stdout; progress to stderr. Exit codes: 0 done,
 * 1 the run failed (idle: no client connected; catch-up: a text missing or duplicated, or a receiver that did not
 * connect; every scenario: connecting or setting up failed), 2 bad arguments
 * or unknown scenario.
 */
public final class BenchMain {
    private BenchMain() {
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** Runs the tool; returns the exit code. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        BenchOptions options;
        try {
            if (args.length == 0 || args[0].equals("--help") || args[0].equals("-h")) {
                out.print(BenchOptions.USAGE);
                return args.length == 0 ? 2 : 0;
            }
            options = BenchOptions.parse(args);
        } catch (RuntimeException e) {
            err.println("error: " + e.getMessage());
            err.print(BenchOptions.USAGE);
            return 2;
        }
        if (!List.of("one-to-one", "idle", "group-fanout", "catch-up").contains(options.scenario())) {
            err.println("error: unknown scenario " + options.scenario());
            return 2;
        }
        try {
            TokenMinter minter = options.secretFile() != null
                    ? JwtTokenMinter.fromConfig(options.secretFile(), options.tokenTtl())
                    : JwtTokenMinter.fromSecret(options.secret(), options.issuer(), options.tokenTtl());
            if ("idle".equals(options.scenario())) {
                IdleResult result = new IdleScenario(options, minter, err).run();
                out.print(result.toTable());
                out.println(result.toJson());
                out.flush();
                return result.connected() > 0 ? 0 : 1;
            }
            if ("catch-up".equals(options.scenario())) {
                CatchUpResult result = new CatchUpScenario(options, minter, err).run();
                out.print(result.toTable());
                out.println(result.toJson());
                out.flush();
                return result.complete() ? 0 : 1;
            }
            BenchResult result = "group-fanout".equals(options.scenario())
                    ? new GroupFanoutScenario(options, minter, err).run()
                    : new OneToOneScenario(options, minter, err).run();
            out.print(result.toTable());
            out.println(result.toJson());
            out.flush();
            return 0;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 1;
        } catch (NoClassDefFoundError e) {
            err.println("error: minting tokens needs parley-auth-jwt and nimbus-jose-jwt on the class path: " + e);
            return 1;
        } catch (RuntimeException e) {
            err.println("error: " + e.getMessage());
            return 1;
        }
    }
}
