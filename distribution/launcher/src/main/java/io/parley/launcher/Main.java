package io.parley.launcher;

import org.osgi.framework.FrameworkEvent;
import org.osgi.framework.launch.Framework;

import java.nio.file.Path;
import java.nio.file.Paths;

/**
 * {@code java -Dparley.home=DIR -jar lib/parley-launcher.jar [--shell] [--home DIR]}
 *
 * <p>Runs Parley in the foreground until the framework stops: on SIGTERM/SIGINT (shutdown hook: orderly
 * framework stop), from the console ({@code stop 0}; in {@code --shell} mode also {@code exit} or end of input),
 * or on a fatal boot error (exit code 1). {@code PARLEY_HOME}: {@code --home}, else the system property {@code parley.home},
 * else the environment variable {@code PARLEY_HOME}, else the current directory.
 */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        long t0 = System.nanoTime();
        boolean shell = false;
        String homeArg = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--shell" -> shell = true;
                case "--home" -> {
                    if (i + 1 >= args.length) {
                        usage("--home needs a directory");
                    }
                    homeArg = args[++i];
                }
                case "-h", "--help" -> {
                    System.out.println("usage: parley-launcher [--shell] [--home DIR]");
                    return;
                }
                default -> usage("unknown argument: " + args[i]);
            }
        }
        Path home = Paths.get(firstNonBlank(homeArg, System.getProperty(LaunchSettings.HOME),
                System.getenv("PARLEY_HOME"), ".")).toAbsolutePath().normalize();
        System.setProperty(LaunchSettings.HOME, home.toString());
        // read by conf/logging.properties as ${sys:...} (pax-logging has no ${sys:name:-default})
        if (System.getProperty("parley.logs") == null) {
            System.setProperty("parley.logs", home.resolve("logs").toString());
        }
        if (System.getProperty("parley.console.level") == null) {
            System.setProperty("parley.console.level", "INFO");
        }

        Launcher launcher;
        Framework framework;
        try {
            LaunchSettings settings = LaunchSettings.load(home);
            launcher = new Launcher(settings);
            Thread hook = new Thread(() -> shutdown(launcher, settings), "parley-shutdown");
            Runtime.getRuntime().addShutdownHook(hook);
            framework = launcher.start();
            long total = (System.nanoTime() - t0) / 1_000_000;
            String uptime = ", JVM up " + java.lang.management.ManagementFactory.getRuntimeMXBean().getUptime() + " ms";
            BootLog.info("Parley " + Launcher.version() + " " + BootLog.STARTED_MARKER + " " + total + " ms ("
                    + launcher.summary() + uptime + "; home " + home + ")");
            BootLog.info("startup phases: " + launcher.phases());
            if (shell) {
                startShell(framework);
            }
            FrameworkEvent stopped = framework.waitForStop(0);
            // stopped from inside (shell "stop 0", or the shell ending): exit without waiting for the hook
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                return; // the hook owns the stop
            }
            BootLog.info("Parley stopped");
            System.exit(stopped.getType() == FrameworkEvent.ERROR ? 1 : 0);
        } catch (Launcher.StartupFailure e) {
            for (String problem : e.problems()) {
                BootLog.error("cannot start: " + problem, null);
            }
            BootLog.error("Parley failed to start: " + e.problems().size() + " component(s) failed to activate or "
                    + "refused value(s) in conf/; stopping (see logs/parley.log for the stack traces)", null);
            System.exit(1);
        } catch (Exception e) {
            BootLog.error("Parley failed to start", e);
            e.printStackTrace();
            System.exit(1);
        }
    }

    /** {@code --shell}: a console on stdin/stdout whose end ({@code exit}, end of input) stops the server. */
    private static void startShell(Framework framework) {
        Thread shell = new Thread(() -> {
            try {
                Console.run(framework.getBundleContext(), System.in, System.out,
                        "'exit' or Ctrl-D stops the server");
            } catch (java.io.IOException | IllegalStateException e) {
                // stdin closed, or the framework stopped under the session
            }
            try {
                framework.stop();
            } catch (org.osgi.framework.BundleException | IllegalStateException e) {
                BootLog.error("framework stop failed", e);
            }
        }, "parley-shell");
        shell.setDaemon(true);
        shell.start();
    }

    private static void shutdown(Launcher launcher, LaunchSettings settings) {
        Framework fw = launcher.framework();
        if (fw == null || (fw.getState() & (org.osgi.framework.Bundle.ACTIVE | org.osgi.framework.Bundle.STARTING)) == 0) {
            return;
        }
        long t0 = System.nanoTime();
        BootLog.info("Parley stopping");
        try {
            boolean ok = launcher.stop(settings.millis(LaunchSettings.SHUTDOWN_TIMEOUT_MS));
            long ms = (System.nanoTime() - t0) / 1_000_000;
            if (ok) {
                BootLog.info("Parley stopped in " + ms + " ms");
            } else {
                BootLog.warn("Parley did not stop within " + ms + " ms; exiting anyway");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void usage(String message) {
        System.err.println("parley-launcher: " + message);
        System.err.println("usage: parley-launcher [--shell] [--home DIR]");
        System.exit(2);
    }

    private static String firstNonBlank(String... values) {
        for (String v : values) {
            if (v != null && !v.isBlank()) {
                return v;
            }
        }
        return ".";
    }
}
