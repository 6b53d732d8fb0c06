package io.parley.launcher;

import org.osgi.framework.BundleContext;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceReference;

import java.util.ArrayList;
import java.util.List;

/**
 * Reads the configuration guard's open problems (bundle {@code io.parley.config.guard}): configuration values that
 * do not fit their key's type or range and have no earlier value to fall back on. The guard publishes them as the
 * String[] service property {@value #REJECTED} of its ConfigurationPlugin registration, so no class of the guard
 * or of ConfigAdmin is needed here.
 */
final class ConfigGuardProbe {
    static final String REJECTED = "parley.config.rejected";

    private ConfigGuardProbe() {
    }

    /** One line per refused value, "PID: conf/file.cfg: key = value is ... (allowed: ...)"; empty without a guard. */
    static List<String> rejected(BundleContext context) {
        List<String> lines = new ArrayList<>();
        ServiceReference<?>[] refs;
        try {
            refs = context.getAllServiceReferences(null, "(" + REJECTED + "=*)");
        } catch (InvalidSyntaxException e) {
            throw new IllegalStateException(e);
        }
        if (refs == null) {
            return lines;
        }
        for (ServiceReference<?> ref : refs) {
            if (ref.getProperty(REJECTED) instanceof String[] problems) {
                lines.addAll(List.of(problems));
            }
        }
        return lines;
    }

    /** The PID a line of {@link #rejected} is about (the text before the first ": "). */
    static String pid(String line) {
        int colon = line.indexOf(": ");
        return colon < 0 ? line : line.substring(0, colon);
    }
}
